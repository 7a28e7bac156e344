"""One command that builds the training data dir: `python -m training.data.build --out data/ [--small]`.

Data flow: install check -> natural.py crops -> harvest.py screenshots (photos from those crops) ->
synthetic.py sample on disk (for hosts without the fonts) -> GT masks from word boxes -> split
manifest (held-out test = whole doc packages) -> detector masks cached for every stored image
(natural crops have no GT; the codec sees detector masks at inference) -> build_report.json.

Re-running is incremental: finished screenshots, masks and crops are kept.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from . import harvest, natural, store
from .canvas import rasterise_boxes
from .fonts import font_count
from .store import Item
from .synthetic import KINDS, SYNTHETIC_VAL_SEED0, render_screen

# Split policy. Test: real screenshots of doc packages never trained or validated on.
TEST_SOURCES = ("postgresql-doc-15", "gimp-help-en")
VAL_SOURCES = ("sphinx-doc",)
VAL_EVERY = 10  # composed pages, synthetic sample and wallpaper files: every 10th goes to val

SIZES = {  # --small / full
    "crops_per_image": (4, 24),
    "harvest_per_source": (2, 40),
    "synthetic_sample": (20, 500),
}


def check_installs() -> dict:
    """What the pipeline can use on this machine; missing parts are reported, not fatal."""
    def installed(pkg: str) -> bool:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True).stdout
        return "install ok installed" in out

    try:
        pw: str | None = version("playwright")
    except PackageNotFoundError:
        pw = None
    report = {
        "chromium": os.path.exists(harvest.CHROMIUM),
        "playwright": pw,
        "font_files": font_count(),
        "doc_pages": {s.name: len(harvest.list_pages(s)) for s in harvest.DOC_SOURCES},
        "wallpaper_packages": {p: installed(p) for p in natural.WALLPAPER_PACKAGES},
    }
    missing = [k for k in ("chromium", "playwright") if not report[k]]
    missing += [n for n, c in report["doc_pages"].items() if not c]
    missing += [p for p, ok in report["wallpaper_packages"].items() if not ok]
    if missing:
        print(f"build: missing {missing}; run training/setup_data.sh", flush=True)
    report["missing"] = missing
    return report


def _split_of_screenshot(source: str, index: int) -> str:
    if source in TEST_SOURCES:
        return "test"
    if source in VAL_SOURCES or (source.startswith("composed-") and index % VAL_EVERY == VAL_EVERY - 1):
        return "val"
    return "train"


def screenshot_items(data_dir: Path) -> list[Item]:
    """Manifest items for harvested screenshots, writing each GT mask from its word boxes once."""
    items = []
    for meta_path in sorted((data_dir / "harvest").glob("*/*.json")):
        meta = json.loads(meta_path.read_text())
        image = meta_path.with_suffix(".webp")
        gt = store.mask_path(image)
        w, h = meta["size"]
        if not gt.exists():
            store.save_mask(rasterise_boxes([tuple(b) for b in meta["word_boxes"]], w, h), gt)
        items.append(Item(str(image.relative_to(data_dir)), "screenshot", meta["source"],
                          _split_of_screenshot(meta["source"], meta["index"]), w, h, str(gt.relative_to(data_dir))))
    return items


def synthetic_items(data_dir: Path, n: int) -> tuple[list[Item], float]:
    """Render a synthetic sample to disk (train seeds 0.., val seeds SYNTHETIC_VAL_SEED0..); returns items, s/screen."""
    items, times = [], []
    n_val = max(1, n // VAL_EVERY)
    for seed, split in [(s, "train") for s in range(n - n_val)] + [(SYNTHETIC_VAL_SEED0 + s, "val") for s in range(n_val)]:
        image = data_dir / "synthetic" / f"{seed:010d}.webp"
        meta_path = image.with_suffix(".json")
        if not meta_path.exists():
            t = time.perf_counter()
            screen = render_screen(seed)
            times.append(time.perf_counter() - t)
            store.save_webp(screen.rgb, image)
            store.save_mask(screen.text_mask, store.mask_path(image))
            meta_path.write_text(json.dumps({"seed": seed, "kind": screen.kind, "size": [1280, 720],
                                             "word_boxes": [list(b) for b in screen.word_boxes]}))
        kind = json.loads(meta_path.read_text())["kind"]
        items.append(Item(str(image.relative_to(data_dir)), "synthetic", f"synthetic-{kind}", split, 1280, 720,
                          str(store.mask_path(image).relative_to(data_dir))))
    return items, (float(np.mean(times)) if times else 0.0)


def natural_items(data_dir: Path, sources: list[natural.Source]) -> list[Item]:
    """Manifest items for natural crops; whole wallpaper files go to one split."""
    items = []
    for k, src in enumerate(s for s in sources if s.kept):
        split = "val" if k % VAL_EVERY == VAL_EVERY - 1 else "train"
        for name in src.crops:
            path = data_dir / "natural" / "crops" / name
            with Image.open(path) as im:
                w, h = im.size
            items.append(Item(str(path.relative_to(data_dir)), "natural", src.package, split, w, h))
    return items


def _load_detector(name: str) -> Callable[[np.ndarray], np.ndarray] | None:
    """The project's text detector, imported lazily so this module works without it."""
    try:
        from screen_codec.detectors import text_mask
    except ImportError as exc:
        print(f"build: no detector ({exc}); detector masks skipped", flush=True)
        return None
    return lambda rgb: text_mask(rgb, detector=name)


def cache_detector_masks(data_dir: Path, items: list[Item], detector: str) -> dict:
    """Write <stem>.det-<detector>.png for every item (skipping cached ones); returns timing."""
    detect = _load_detector(detector)
    if detect is None:
        return {"detector": detector, "available": False}
    done, t0 = 0, time.perf_counter()
    for it in items:
        path = store.mask_path(data_dir / it.image, detector)
        if not path.exists():
            try:
                store.save_mask(detect(store.load_rgb(data_dir / it.image)), path)
            except Exception as exc:  # e.g. DetectorUnavailableError: report once and stop trying
                print(f"build: detector {detector} failed: {type(exc).__name__}: {exc}", flush=True)
                return {"detector": detector, "available": False, "error": str(exc)[:200]}
            done += 1
        it.det_mask = str(path.relative_to(data_dir))
    seconds = time.perf_counter() - t0
    return {"detector": detector, "available": True, "computed": done, "seconds": round(seconds, 1)}


def build(out: Path, small: bool, detector: str, seed: int = 0, skip_harvest: bool = False,
          harvest_per_source: int | None = None) -> dict:
    i = 0 if small else 1
    per_source = harvest_per_source or SIZES["harvest_per_source"][i]
    out = out.resolve()  # file:// URLs and SCREEN_PHOTO_DIR need absolute paths
    out.mkdir(parents=True, exist_ok=True)
    report: dict = {"small": small, "seed": seed, "harvest_per_source": per_source, "installs": check_installs()}
    t = time.perf_counter()
    src_json = out / "natural" / "sources.json"
    if src_json.exists() and any((out / "natural" / "crops").glob("*.jpg")):
        sources = [natural.Source(**d) for d in json.loads(src_json.read_text())]
    else:
        sources = natural.build_natural(out, SIZES["crops_per_image"][i], seed)
    report["natural"] = {"files": len(sources), "kept": sum(s.kept for s in sources),
                         "crops": sum(len(s.crops) for s in sources), "seconds": round(time.perf_counter() - t, 1)}
    os.environ["SCREEN_PHOTO_DIR"] = str(out / "natural" / "crops")  # photos in composed pages and synthetic screens
    if not skip_harvest and report["installs"]["chromium"] and report["installs"]["playwright"]:
        jobs = harvest.plan_jobs(per_source, seed, out / "harvest" / "composed_pages")
        report["harvest"] = harvest.harvest(jobs, out)
    items = screenshot_items(out)
    synth, render_s = synthetic_items(out, SIZES["synthetic_sample"][i])
    report["synthetic"] = {"sample": len(synth), "kinds": list(KINDS), "seconds_per_screen_1280x720": round(render_s, 3),
                           "val_seed0": SYNTHETIC_VAL_SEED0}
    items += synth + natural_items(out, sources)
    report["detector_masks"] = cache_detector_masks(out, items, detector)
    store.write_manifest(out, items, {"seed": seed, "small": small, "harvest_per_source": per_source,
                                      "test_sources": TEST_SOURCES, "val_sources": VAL_SOURCES, "detector": detector})
    report["manifest_items"] = len(items)
    (out / "build_report.json").write_text(json.dumps(report, indent=1))
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description="Build the screen-content training data dir.")
    ap.add_argument("--out", type=Path, default=Path("data"))
    ap.add_argument("--small", action="store_true", help="a quick sample (minutes) instead of the full set")
    ap.add_argument("--detector", default="dbnet", help="screen_codec.detectors name for masks of GT-less images")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-harvest", action="store_true", help="no browser: natural + synthetic only")
    ap.add_argument("--harvest-per-source", type=int,
                    help="screenshots per doc source and composed kind (default 2 small, 40 full); growing an "
                         "existing dir only adds images")
    ap.add_argument("--clean", action="store_true", help="delete --out first")
    args = ap.parse_args()
    if args.clean and args.out.exists():
        shutil.rmtree(args.out)
    report = build(args.out, args.small, args.detector, args.seed, args.skip_harvest, args.harvest_per_source)
    print(json.dumps({k: v for k, v in report.items() if k != "installs"}, indent=1))


if __name__ == "__main__":
    main()
