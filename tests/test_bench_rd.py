"""bench/rd.py --reuse: an earlier run's points come back only where this run would measure them again.

Runs the real benchmark (untrained models, the real bitstream path, one classical codec) on a small
generated image; needs the bench requirements (imagecodecs), which the service does not.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("imagecodecs")
from bench import rd  # noqa: E402


def _run(tmp_path: Path, name: str, *extra: str, models: tuple[str, ...] = ("compact",)) -> dict:
    out = tmp_path / f"{name}.json"
    checkpoints = [arg for model in models for arg in ("--checkpoint", f"untrained:{model}")]
    rd.main(["--images", str(tmp_path / "images"), *checkpoints,
             "--detector", "none", "--codecs", "jpeg", "--out", str(out), *extra])
    return json.loads(out.read_text())


def _ours(report: dict) -> list[dict]:
    labels = {v["label"] for v in report["meta"]["variants"]}
    return [p for p in report["points"] if p["codec"] in labels]


def _screen(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    rng = np.random.default_rng(0)
    image = np.full((64, 96, 3), 235, np.uint8)
    image[16:48, 8:88] = rng.integers(0, 255, (32, 80, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "images" / "screen.png"), image)


def _skip_unless_reusable(report: dict) -> None:
    if not rd.same_codec_tree(report["meta"]["code"], rd.code_version()):
        pytest.skip("screen_codec/ differs from HEAD here, so no run reuses our points")


def test_reuse_takes_points_of_the_same_model_and_recomputes_another(tmp_path: Path) -> None:
    _screen(tmp_path)
    first = _run(tmp_path, "first")
    _skip_unless_reusable(first)
    again = _run(tmp_path, "again", "--reuse", str(tmp_path / "first.json"))
    other = _run(tmp_path, "other", "--reuse", str(tmp_path / "first.json"), "--seed", "1")

    assert all("reused_from" in p for p in again["points"])  # jpeg and ours
    assert [(p["setting"], p["bpp"], p["psnr"]) for p in _ours(again)] == [
        (p["setting"], p["bpp"], p["psnr"]) for p in _ours(first)
    ]
    assert other["meta"]["variants"][0]["model_id"] != first["meta"]["variants"][0]["model_id"]
    assert _ours(other) and not any("reused_from" in p for p in _ours(other))
    assert all("reused_from" in p for p in other["points"] if p["codec"] == "jpeg")


def test_reuse_repeated_merges_the_points_of_several_runs(tmp_path: Path) -> None:
    """Two arms measured in separate runs come together in one report without coding anything."""
    _screen(tmp_path)
    compact = _run(tmp_path, "compact")
    _skip_unless_reusable(compact)
    lite = _run(tmp_path, "lite", models=("lite",))
    both = _run(tmp_path, "both", "--reuse", str(tmp_path / "compact.json"), "--reuse", str(tmp_path / "lite.json"),
                models=("compact", "lite"))

    assert len(both["meta"]["variants"]) == 2
    assert all("reused_from" in p for p in both["points"])
    measured = {(p["codec"], p["setting"]): (p["bpp"], p["psnr"]) for p in compact["points"] + lite["points"]}
    assert {(p["codec"], p["setting"]): (p["bpp"], p["psnr"]) for p in both["points"]} == measured


def test_pooled_sets_keep_distinct_images_apart_and_count_a_repeated_one_once(tmp_path: Path) -> None:
    """Two builds name different screenshots alike (gimp-help-en/00000): per-image results must not
    merge them; the same pixels listed twice are one image."""
    rng = np.random.default_rng(0)
    for build in ("small", "full"):
        (tmp_path / build / "docs").mkdir(parents=True)
        cv2.imwrite(str(tmp_path / build / "docs" / "00000.png"), rng.integers(0, 255, (8, 8, 3), dtype=np.uint8))
    (tmp_path / "list.txt").write_text("small/docs/00000.png\n")
    images = rd.load_images([str(tmp_path / "small" / "docs"), str(tmp_path / "full" / "docs"),
                             str(tmp_path / "list.txt")])
    assert len(images) == 2 and images[0].name == "docs/00000"
    assert images[1].name == f"docs/00000#{images[1].sha256[:8]}" and images[0].sha256 != images[1].sha256


def test_comparison_table_counts_the_images_a_test_improves() -> None:
    """'images better' counts negative per-image BD-rates among the images whose curves overlap."""
    comparison = {
        "anchor": "old", "test": "new", "dominated": None,
        "psnr": {"bd_rate": -0.4, "bd_psnr": 0.02}, "text_psnr": {"bd_rate": -0.3, "bd_psnr": 0.01},
        "per_image": {"median_bd_rate": -0.5, "bd_rate": {"a": -2.0, "b": 1.0, "c": -0.1}, "no_overlap": ["d"]},
        "excess_rate_by_setting": {"1": -1.0, "2": None},
    }
    report = {"summaries": {}, "against_anchor": {}, "comparisons": [comparison], "curves": {}}
    row = next(line for line in rd.markdown(report).splitlines() if line.startswith("| new | old |"))
    assert row.endswith("| -0.5 % (3/4) | 2 of 3 |")


def _curve_points(codec: str, curve: list[tuple[float, float]]) -> list[dict]:
    return [{"codec": codec, "setting": s, "image": "a", "bpp": bpp, "psnr": psnr, "text_psnr": None,
             "encode_ms": 1.0, "decode_ms": 1.0} for s, (bpp, psnr) in enumerate(curve, start=1)]


def test_excess_rate_reads_the_anchor_at_each_test_settings_psnr() -> None:
    """Bits over the anchor level by level: the anchor's rate at the test setting's PSNR, off its
    frontier (a dominated anchor setting is ignored); n/a past the PSNRs the anchor reaches."""
    anchor = _curve_points("classic", [(0.1, 30.0), (0.2, 34.0), (0.15, 29.0), (0.4, 38.0)])
    test = _curve_points("ours", [(0.4, 34.0), (0.3, 30.0), (0.5, 39.0), (0.2, 29.5)])
    comparison = rd.compare(anchor + test, "classic", "ours")
    assert comparison["excess_rate_by_setting"]["1"] == pytest.approx(100.0)
    assert comparison["excess_rate_by_setting"]["2"] == pytest.approx(200.0)
    assert comparison["excess_rate_by_setting"]["3"] is None
    assert comparison["excess_rate_by_setting"]["4"] is None  # 29.5 dB: only the dominated point
    report = {"summaries": {}, "against_anchor": {}, "comparisons": [comparison], "curves": {}}
    lines = rd.markdown(report).splitlines()
    assert "| test | anchor | bits over the anchor at equal PSNR: setting 1 | 2 | 3 | 4 |" in lines
    assert "| ours | classic | +100.0 % | +200.0 % | n/a | n/a |" in lines
