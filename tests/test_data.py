"""Data pipeline tests: synthetic screens (determinism, exact masks), fixtures, datasets, shard.

Run: .venv/bin/python -m pytest tests/test_data.py -q   (no browser or network needed)
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from training.data import charts, harvest, store
from training.data.build import TEST_SOURCES, _split_of_screenshot
from training.data.canvas import Canvas, Face, color_fringes, rasterise_boxes
from training.data.dataset import CropDataset, MixedStream, SyntheticStream
from training.data.fonts import FONTS
from training.data.natural import flat_fraction
from training.data.shard import write_shard
from training.data.store import Item
from training.data.synthetic import KINDS, render_screen

FIXTURES = Path(__file__).parent / "fixtures" / "screenshots"
ODD_SIZES = ((333, 517), (1001, 563), (641, 479), (1366, 769), (257, 199))


def _interior(box: tuple[int, int, int, int], w: int, h: int) -> bool:
    """Boxes cut by the image border may hold only the blank margin of a glyph bitmap."""
    x0, y0, x1, y1 = box
    return x0 > 0 and y0 > 0 and x1 < w and y1 < h


def _has_ink(rgb: np.ndarray, box: tuple[int, int, int, int]) -> bool:
    x0, y0, x1, y1 = box
    return bool(np.ptp(rgb[y0:y1, x0:x1].reshape(-1, 3), axis=0).max() > 0)


def _check_screen(rgb: np.ndarray, mask: np.ndarray, boxes: list, w: int, h: int) -> None:
    assert rgb.shape == (h, w, 3) and rgb.dtype == np.uint8
    assert mask.shape == (h, w) and mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 1}
    for x0, y0, x1, y1 in boxes:
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
    # mask pixels lie inside word boxes and every word box is masked: the mask IS the union of boxes
    assert np.array_equal(mask, rasterise_boxes([tuple(b) for b in boxes], w, h))


def test_render_is_deterministic_per_seed() -> None:
    a, b, c = render_screen(123), render_screen(123), render_screen(124)
    assert a.kind == b.kind and a.word_boxes == b.word_boxes
    assert np.array_equal(a.rgb, b.rgb) and np.array_equal(a.text_mask, b.text_mask)
    assert not np.array_equal(a.rgb, c.rgb)


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_with_exact_mask(kind: str) -> None:
    odd = ODD_SIZES[KINDS.index(kind) % len(ODD_SIZES)]
    for seed, (w, h) in ((KINDS.index(kind), (1280, 720)), (99, odd)):
        s = render_screen(seed, w, h, kind)
        assert s.kind == kind
        _check_screen(s.rgb, s.text_mask, s.word_boxes, w, h)
        interior = [b for b in s.word_boxes if _interior(b, w, h)]
        assert interior or (w, h) == (257, 199), "a screen without text"
        # nothing painted over a word after it was drawn: each box still shows ink
        assert all(_has_ink(s.rgb, b) for b in interior)


@pytest.mark.parametrize("kind", ("bar", "hbar"))
def test_bars_render_in_the_narrowest_plot(kind: str) -> None:
    """The smallest plot chart() draws (16 px) with the most series and bars: bars thinner than
    their gap (it crashed training at step 13470 of phase 6) still draw, inside the plot."""
    for seed in range(8):  # covers both supersampling factors
        body = charts._body(np.random.default_rng(seed), kind, 16, 16, (255, 255, 255), (200, 200, 200),
                            ((200, 30, 30), (30, 200, 30), (30, 30, 200), (0, 0, 0)), 4, 13)
        assert body.size == (16, 16)
        r, g, b = np.asarray(body).astype(int).transpose(2, 0, 1)
        assert ((r > g + 50) & (r > b + 50)).any(), "the first (red) series drew no bar"


def test_glyph_ink_lies_inside_word_boxes() -> None:
    """Draw words in 12 random faces x 3 sizes, AA on and off: every lit pixel is inside the recorded boxes."""
    words = ["Hamburgefonstiv", "jqpgy,", "{x[0]}", "WAVE", "fi-fl", "Ünïcödé", "@#%&"]
    rng = np.random.default_rng(0)
    files = [f for fam in FONTS.values() for f in fam["regular"] + fam["bold"]]
    for path in (files[i] for i in rng.choice(len(files), size=min(12, len(files)), replace=False)):
        for size, aa in ((9, False), (13, True), (40, True)):
            cv = Canvas(900, 60, (0, 0, 0))
            cv.text(4, 4, " ".join(words), Face(path, size, aa), (255, 255, 255))
            ink = np.asarray(cv.img).max(axis=2) > 0
            mask = rasterise_boxes(cv.boxes, 900, 60).astype(bool)
            assert not (ink & ~mask).any(), f"ink outside boxes: {path} {size} aa={aa}"
            assert all(_has_ink(np.asarray(cv.img), b) for b in cv.boxes)


def test_color_fringes_only_touch_the_mask() -> None:
    s = render_screen(5, 640, 360, "docs")
    out = color_fringes(s.rgb, s.text_mask)
    changed = (out != s.rgb).any(axis=2)
    assert changed.any() and not (changed & (s.text_mask == 0)).any()


def _fixtures() -> list[tuple[np.ndarray, dict]]:
    return [(store.load_rgb(p.with_suffix(".webp")), json.loads(p.read_text())) for p in sorted(FIXTURES.glob("*.json"))]


def test_fixtures_are_consistent_real_screenshots() -> None:
    shots = _fixtures()
    assert 6 <= len(shots) <= 10
    assert sum(p.stat().st_size for p in FIXTURES.iterdir()) <= 3 * 2**20
    sizes = {tuple(meta["size"]) for _, meta in shots}
    assert {(1280, 720), (1366, 768)} <= sizes
    assert {meta["dark"] for _, meta in shots} == {True, False}
    assert len({meta["source"] for _, meta in shots}) >= 5
    for rgb, meta in shots:
        w, h = meta["size"]
        assert rgb.shape == (h, w, 3) and len(meta["word_boxes"]) >= 20
        mask = rasterise_boxes([tuple(b) for b in meta["word_boxes"]], w, h)
        _check_screen(rgb, mask, meta["word_boxes"], w, h)
        interior = [b for b in meta["word_boxes"] if _interior(b, w, h)]
        assert np.mean([_has_ink(rgb, b) for b in interior]) > 0.98
        # dark screenshots are dark, light ones light (forced dark worked where needed)
        assert (rgb.mean() < 110) == meta["dark"], meta["page"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny data dir in the build layout: fixtures as screenshots, two synthetic screens, a photo crop."""
    root = tmp_path_factory.mktemp("data")
    items = []
    for i, meta_path in enumerate(sorted(FIXTURES.glob("*.json"))[:4]):
        meta = json.loads(meta_path.read_text())
        image = root / "harvest" / meta["source"] / f"{i:05d}.webp"
        image.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(meta_path.with_suffix(".webp"), image)
        w, h = meta["size"]
        store.save_mask(rasterise_boxes([tuple(b) for b in meta["word_boxes"]], w, h), store.mask_path(image))
        items.append(Item(str(image.relative_to(root)), "screenshot", meta["source"], ("train", "test")[i % 2], w, h,
                          str(store.mask_path(image).relative_to(root))))
    for seed in (1, 2):
        s = render_screen(seed, 400, 300)
        image = root / "synthetic" / f"{seed:010d}.webp"
        store.save_webp(s.rgb, image)
        store.save_mask(s.text_mask, store.mask_path(image))
        items.append(Item(str(image.relative_to(root)), "synthetic", f"synthetic-{s.kind}", "train", 400, 300,
                          str(store.mask_path(image).relative_to(root))))
    crop = root / "natural" / "crops" / "pkg__photo__000.jpg"
    crop.parent.mkdir(parents=True)
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (200, 300, 3), dtype=np.uint8)).save(crop)
    items.append(Item(str(crop.relative_to(root)), "natural", "pkg", "train", 300, 200))
    store.write_manifest(root, items, {})
    return root


def _check_sample(sample: dict[str, torch.Tensor], crop: int) -> None:
    assert sample["image"].shape == (3, crop, crop) and sample["image"].dtype == torch.float32
    assert sample["mask"].shape == (1, crop, crop)
    assert 0 <= sample["image"].min() and sample["image"].max() <= 1
    assert set(sample["mask"].unique().tolist()) <= {0.0, 1.0}


def test_crop_dataset_shapes_and_determinism(data_dir: Path) -> None:
    ds = CropDataset(data_dir, "train", crop=256)
    assert len(ds) == 5 and len(CropDataset(data_dir, "test")) == 2
    for i in range(len(ds)):
        _check_sample(ds[i], 256)  # includes a 300x200 crop, padded to 256
    first = ds[0]["image"]
    assert torch.equal(first, ds[0]["image"])  # same (seed, epoch, index) -> same crop
    ds.set_epoch(1)
    assert not torch.equal(first, ds[0]["image"])  # a new epoch places crops anew


def test_decoded_cache_gives_the_same_crops_and_decodes_once(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = CropDataset(data_dir, "train", crop=128)
    cached = CropDataset(data_dir, "train", crop=128, decoded_cache=tmp_path / "decoded")
    for i in range(len(plain)):  # includes a 300x200 natural crop without a mask
        for seed in (0, 1):
            a, b = plain.sample(i, np.random.default_rng(seed)), cached.sample(i, np.random.default_rng(seed))
            assert torch.equal(a["image"], b["image"]) and torch.equal(a["mask"], b["mask"])
    entries = sorted((tmp_path / "decoded").iterdir())
    assert len(entries) == len(plain) and all(e.suffix == ".npy" and "partial" not in e.name for e in entries)

    def no_decode(_: object) -> np.ndarray:
        raise AssertionError("decoded again despite the cache")

    expected = plain[2]
    monkeypatch.setattr(store, "load_rgb", no_decode)
    again = CropDataset(data_dir, "train", crop=128, decoded_cache=tmp_path / "decoded")  # a fresh process's view
    assert torch.equal(again[2]["image"], expected["image"]) and torch.equal(again[2]["mask"], expected["mask"])
    other_masks = CropDataset(data_dir, "train", crop=128, mask_source="detector", decoded_cache=tmp_path / "decoded")
    with pytest.raises(AssertionError, match="decoded again"):  # other mask bytes: another key, no stale entry
        other_masks[0]


def test_synthetic_and_mixed_streams(data_dir: Path) -> None:
    synth = SyntheticStream(crop=128, crops_per_screen=2, sizes=((480, 320),))
    it = iter(synth)
    for _ in range(3):
        _check_sample(next(it), 128)
    mixed = iter(MixedStream(CropDataset(data_dir, "train", crop=128), synth, synthetic_ratio=0.5))
    for _ in range(6):
        _check_sample(next(mixed), 128)


def test_shard_round_trip(data_dir: Path, tmp_path: Path) -> None:
    info = write_shard(data_dir, tmp_path / "shard.tar", max_bytes=48 * 2**20)
    assert info["items"] == info["of"] == 7 and info["bytes"] <= 48 * 2**20
    from_dir, from_tar = CropDataset(data_dir, "train"), CropDataset(tmp_path / "shard.tar", "train")
    order = [it.image for it in from_dir.items]
    assert sorted(order) == sorted(it.image for it in from_tar.items)  # same items, round-robin order
    for j, it in enumerate(from_tar.items):
        a = from_dir.sample(order.index(it.image), np.random.default_rng(j))
        b = from_tar.sample(j, np.random.default_rng(j))
        assert torch.equal(a["image"], b["image"]) and torch.equal(a["mask"], b["mask"])
    small = write_shard(data_dir, tmp_path / "small.tar", max_bytes=150 * 1024)
    assert 0 < small["items"] < 7 and small["bytes"] <= 150 * 1024


def test_split_policy_and_flatness() -> None:
    assert all(_split_of_screenshot(s, 0) == "test" for s in TEST_SOURCES)
    assert _split_of_screenshot("python3.11-doc", 3) == "train"
    assert _split_of_screenshot("composed-slide", 9) == "val"
    assert flat_fraction(np.full((64, 64), 128, np.uint8)) == 1.0
    assert flat_fraction(np.random.default_rng(0).integers(0, 255, (64, 64)).astype(np.uint8)) == 0.0


def test_growing_the_harvest_only_appends_pages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bigger build keeps every job of the smaller one (images on disk and held-out lists stay valid)."""
    sources = []
    for name, n_pages in (("docs-a", 150), ("docs-b", harvest.FIRST_DRAW + 5)):
        root = tmp_path / name
        root.mkdir()
        for i in range(n_pages):
            (root / f"p{i:03d}.html").write_text("<p>x</p>")
        sources.append(harvest.DocSource(name, str(root), "*.html"))
    monkeypatch.setattr(harvest, "DOC_SOURCES", tuple(sources))
    names = ("docs-a", "docs-b")
    base = harvest.plan_jobs(harvest.FIRST_DRAW, 0, tmp_path / "composed", names)
    grown = harvest.plan_jobs(3 * harvest.FIRST_DRAW, 0, tmp_path / "composed", names)
    for name, expected in (("docs-a", 3 * harvest.FIRST_DRAW), ("docs-b", harvest.FIRST_DRAW + 5)):
        small = [j for j in base if j.source == name]
        big = [j for j in grown if j.source == name]
        assert big[: len(small)] == small and len(small) == harvest.FIRST_DRAW
        assert len(big) == expected  # capped by the pages the source has
        assert [j.index for j in big] == list(range(expected))
        assert len({j.page for j in big}) == expected  # the extension draws pages not yet shot
    assert harvest.plan_jobs(3 * harvest.FIRST_DRAW, 1, tmp_path / "composed", names) != grown


def test_harvest_retries_a_page_that_fails_some_tries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A page that navigates itself fails by timing: it is retried in a fresh context, and a page
    that fails every try is counted and skipped without stopping the harvest."""
    calls: dict[str, int] = {}

    class FlakyBrowser:
        def __enter__(self) -> "FlakyBrowser":
            return self

        def __exit__(self, *exc: object) -> None:
            pass

        def shoot(self, job: harvest.Job) -> tuple[Image.Image, dict]:
            calls[job.page] = calls.get(job.page, 0) + 1
            if job.page == "always-fails.html" or calls[job.page] < harvest.SHOT_ATTEMPTS:
                raise RuntimeError("Execution context was destroyed")
            return Image.new("RGB", (job.width, job.height), "white"), {"page": job.page}

    monkeypatch.setattr(harvest, "Browser", FlakyBrowser)
    jobs = [harvest.Job("docs", page, i, 32, 16, 1.0, False, 0.0)
            for i, page in enumerate(("flaky.html", "always-fails.html"))]
    report = harvest.harvest(jobs, tmp_path)
    assert (report["shot"], report["failed"]) == (1, 1)
    assert calls == {"flaky.html": harvest.SHOT_ATTEMPTS, "always-fails.html": harvest.SHOT_ATTEMPTS}
    assert (tmp_path / "harvest/docs/00000.webp").exists()
    assert not (tmp_path / "harvest/docs/00001.json").exists()


def test_harvest_opens_a_meta_refresh_target_and_ignores_inert_redirects(tmp_path: Path) -> None:
    """octave-doc's XREF pages redirect by meta refresh after "load": the harvest opens the target
    itself (no navigation left to race the screenshot). A redirect inside <noscript> (LibreOffice
    help) or to another site is inert for a script-running, offline Chromium: the page itself opens."""
    pages = {
        "xref.html": '<html><head><META HTTP-EQUIV="Refresh" CONTENT="0; url=doc/Strings.html#XREFstrjoin">',
        "noscript.html": '<head><noscript><meta http-equiv="refresh" content="0; URL=../noscript.html"></noscript>'
                         '<meta http-equiv="refresh" content="5">',
        "remote.html": '<meta http-equiv="refresh" content="0; url=https://example.org/">',
        "plain.html": "<html><body><p>no redirect</p></body></html>",
    }
    for name, text in pages.items():
        (tmp_path / name).write_text(text)
    target = (tmp_path / "doc" / "Strings.html").as_uri() + "#XREFstrjoin"
    assert harvest.page_uri(tmp_path / "xref.html") == target
    for name in ("noscript.html", "remote.html", "plain.html"):
        assert harvest.page_uri(tmp_path / name) == (tmp_path / name).as_uri()


@pytest.mark.skipif(any(shutil.which(p) is None for p in ("Xvfb", "openbox", "xdotool", "xterm", "git")),
                    reason="desktop programs not installed (training/setup_data.sh desktop)")
def test_desktop_shot_is_a_real_terminal_and_reproducible() -> None:
    """A real xterm on Xvfb: the scripted session is on screen (the prompt's colour, many text
    colours) and a second shot in a fresh X server gives the same pixels (held-out reuse by hash)."""
    from training.data import desktop

    first = desktop.shoot("terminal", "dark", 960, 540)
    again = desktop.shoot("terminal", "dark", 960, 540)
    assert first.shape == (540, 960, 3)
    assert np.array_equal(first, again)
    background = np.array([0x1E, 0x1F, 0x22])
    text = (first != background).any(axis=2)
    assert 0.02 < text.mean() < 0.5  # lines of text, not a blank or a solid window
    green_prompt = (first[..., 1] > 150) & (first[..., 0] < 120) & (first[..., 2] < 120)
    assert green_prompt.sum() > 200
