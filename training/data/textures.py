"""Picture content inside synthetic screens: natural photo crops, or smooth procedural textures.

Data flow: <photo dir>/*.jpg (made by natural.py) --rng--> cover-resized PIL image;
           no photos -> multi-scale smooth noise + grain (procedural stand-in).

The photo dir is $SCREEN_PHOTO_DIR, else <repo>/data/natural/crops. Output is deterministic per rng
state for a fixed directory content (the file list is sorted).
"""
from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PHOTO_DIR = REPO_ROOT / "data" / "natural" / "crops"


def photo_dir() -> Path:
    return Path(os.environ.get("SCREEN_PHOTO_DIR", DEFAULT_PHOTO_DIR))


_LISTINGS: dict[str, tuple[str, ...]] = {}


def photo_files() -> tuple[str, ...]:
    """Sorted natural crops available to screens (empty until natural.py has run; empty is not cached)."""
    directory = str(photo_dir())
    if directory not in _LISTINGS and os.path.isdir(directory):
        files = tuple(sorted(os.path.join(directory, f) for f in os.listdir(directory) if f.endswith(".jpg")))
        if files:
            _LISTINGS[directory] = files
    return _LISTINGS.get(directory, ())


@functools.lru_cache(maxsize=48)
def _load(path: str) -> Image.Image:
    with Image.open(path) as im:
        return im.convert("RGB")


def procedural(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    """Smooth colour field with mid-scale detail and grain: a cheap stand-in for a photo."""
    gw, gh = int(rng.integers(2, 7)), int(rng.integers(2, 5))
    base = Image.fromarray(rng.integers(0, 256, (gh, gw, 3), dtype=np.uint8)).resize((width, height), Image.BICUBIC)
    step = int(rng.integers(6, 24))
    detail = rng.integers(0, 256, (height // step + 1, width // step + 1, 3), dtype=np.uint8)
    detail_img = Image.fromarray(detail).resize((width, height), Image.BILINEAR)
    mixed = Image.blend(base, detail_img, float(rng.uniform(0.05, 0.3)))
    out = np.asarray(mixed, np.float32)  # a fresh writable array
    out += rng.standard_normal((height, width, 1), dtype=np.float32) * np.float32(rng.uniform(1, 6))
    return Image.fromarray(np.clip(out, 0, 255, out=out).astype(np.uint8))


def photo(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    """A width x height picture: a random region of a natural crop scaled to cover, else procedural."""
    width, height = max(1, width), max(1, height)
    files = photo_files()
    if not files:
        return procedural(rng, width, height)
    src = _load(files[rng.integers(len(files))])
    sw, sh = src.size
    # Random zoom (0.5-1.0 of the largest region with the target aspect), random position.
    scale = min(sw / width, sh / height) * float(rng.uniform(0.5, 1.0))
    cw, ch = max(1, int(width * scale)), max(1, int(height * scale))
    x0, y0 = int(rng.integers(0, sw - cw + 1)), int(rng.integers(0, sh - ch + 1))
    out = src.resize((width, height), Image.BILINEAR, box=(x0, y0, x0 + cw, y0 + ch))
    return out.transpose(Image.FLIP_LEFT_RIGHT) if rng.random() < 0.5 else out
