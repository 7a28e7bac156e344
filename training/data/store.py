"""On-disk formats of the data dir: lossless WebP screens, 1-bit PNG masks, the split manifest.

Data flow: RGB uint8 -> <stem>.webp (lossless);  mask {0,1} -> <stem>.mask.png (GT) or
<stem>.det-<detector>.png (detector cache);  items -> manifest.json  (and back, for dataset.py).
"""
from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

WEBP_EFFORT = 80  # lossless WebP: PIL quality = effort; 80 vs 100: ~2x faster, 1-2% larger (3 screenshots)
MANIFEST = "manifest.json"
SPLITS = ("train", "val", "test")


@dataclass
class Item:
    image: str  # path relative to the data dir
    kind: str  # screenshot | synthetic | natural
    source: str  # doc package, composed-<kind>, synthetic-<kind>, or wallpaper package
    split: str  # train | val | test
    width: int
    height: int
    gt_mask: str | None = None  # exact mask (DOM word boxes / renderer), relative path
    det_mask: str | None = None  # detector mask cache, relative path


def save_webp(rgb: np.ndarray | Image.Image, path: Path) -> None:
    img = rgb if isinstance(rgb, Image.Image) else Image.fromarray(rgb)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, "WEBP", lossless=True, quality=WEBP_EFFORT)


def load_rgb(path: Path | io.BytesIO) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def save_mask(mask: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((mask > 0).astype(np.uint8) * 255).convert("1").save(path, optimize=True)


def load_mask(path: Path | io.BytesIO) -> np.ndarray:
    with Image.open(path) as im:
        return (np.asarray(im.convert("L")) > 127).astype(np.uint8)


def mask_path(image: Path, detector: str | None = None) -> Path:
    """Where the GT mask (detector None) or a detector's cached mask of an image lives."""
    stem = image.with_suffix("")
    return stem.with_name(stem.name + (f".det-{detector}.png" if detector else ".mask.png"))


def write_manifest(data_dir: Path, items: list[Item], extra: dict) -> None:
    counts = {s: {} for s in SPLITS}
    for it in items:
        counts[it.split][it.kind] = counts[it.split].get(it.kind, 0) + 1
    doc = {**extra, "counts": counts, "items": [asdict(i) for i in items]}
    (data_dir / MANIFEST).write_text(json.dumps(doc, indent=0))


def parse_manifest(text: str | bytes) -> list[Item]:
    return [Item(**d) for d in json.loads(text)["items"]]


def read_manifest(data_dir: Path) -> list[Item]:
    return parse_manifest((data_dir / MANIFEST).read_text())
