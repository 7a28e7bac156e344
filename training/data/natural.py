"""Natural images for pre-training, cut from Debian wallpaper packages into JPEG crops.

Data flow: dpkg -L <wallpaper pkg> -> one file per wallpaper (largest variant) -> flatness filter
(drop flat vector art) -> multi-scale random crops (256..512 px) -> <out>/natural/crops/*.jpg (q95)
+ <out>/natural/sources.json (package, file, licence from /usr/share/doc/<pkg>/copyright, kept or not).

The crops also feed textures.photo() (photos inside synthetic screens).
"""
from __future__ import annotations

import fnmatch
import json
import os
import re
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

WALLPAPER_PACKAGES = ("mate-backgrounds", "plasma-workspace-wallpapers", "ukui-wallpapers", "gnome-backgrounds",
                      "lomiri-wallpapers-20.04")
_IMAGE_EXT = (".jpg", ".jpeg", ".png", ".webp")
# A 16x16 block with luminance std < 1 is "flat"; vector art is mostly flat blocks, photographs are not.
# Measured on the five packages: photographs 0.00-0.39, flat vector art 0.70-1.00 (docs/DATA.md).
MAX_FLAT_FRACTION = 0.4
CROP_MIN, CROP_MAX = 256, 512
JPEG_QUALITY = 95

Image.MAX_IMAGE_PIXELS = None  # plasma wallpapers are 5120x2880; the files are trusted package content


@dataclass
class Source:
    package: str
    path: str
    licence: str
    width: int = 0
    height: int = 0
    flat_fraction: float = 1.0
    kept: bool = False
    crops: list[str] = field(default_factory=list)  # file names under natural/crops


def _package_files(package: str) -> list[str]:
    out = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True, check=False).stdout
    return [p for p in out.split("\n") if p.lower().endswith(_IMAGE_EXT) and os.path.isfile(p)]


def _wallpaper_key(path: str) -> str:
    """Files that are one wallpaper at several sizes share a key (plasma: the theme dir; else the stem)."""
    if "/usr/share/wallpapers/" in path:
        return path.split("/usr/share/wallpapers/")[1].split("/")[0]
    stem = Path(path).stem
    return re.sub(r"_\d+x\d+$", "", stem)


def wallpaper_files(package: str) -> list[str]:
    """One file per wallpaper: the largest light variant (plasma previews and dark variants skipped)."""
    groups: dict[str, list[str]] = {}
    for p in _package_files(package):
        if "screenshot" in p or "images_dark" in p:
            continue
        groups.setdefault(_wallpaper_key(p), []).append(p)
    return sorted(max(files, key=os.path.getsize) for files in groups.values())


def _copyright_stanzas(package: str) -> list[tuple[list[str], str]]:
    """(Files patterns, License) pairs of a machine-readable (DEP-5) copyright file."""
    path = f"/usr/share/doc/{package}/copyright"
    if not os.path.isfile(path):
        return []
    stanzas = []
    for block in open(path, encoding="utf-8", errors="replace").read().split("\n\n"):
        files = re.search(r"^Files:(.*(?:\n[ \t].*)*)", block, re.M)
        lic = re.search(r"^License:\s*(\S.*)$", block, re.M)
        if files and lic:
            stanzas.append((files.group(1).split(), lic.group(1).strip()))
    return stanzas


def licence_for(package: str, path: str) -> str:
    """Licence of one installed file from its package's copyright file (most specific match wins)."""
    name = os.path.basename(path)
    best = ""
    for patterns, lic in _copyright_stanzas(package):
        if any(fnmatch.fnmatch(name, os.path.basename(p)) or path.endswith(p) for p in patterns if p != "*"):
            return lic
        if "*" in patterns and not best:
            best = lic
    return best or f"see /usr/share/doc/{package}/copyright"


def _load_rgb(path: str) -> Image.Image:
    with Image.open(path) as im:
        if im.mode in ("RGBA", "LA", "P"):
            im = im.convert("RGBA")
            bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
            return Image.alpha_composite(bg, im).convert("RGB")  # transparent art -> flat white, filtered out
        return im.convert("RGB")


def flat_fraction(gray: np.ndarray, block: int = 16) -> float:
    """Fraction of block x block tiles whose luminance std is below 1 (see MAX_FLAT_FRACTION)."""
    h, w = gray.shape[0] // block * block, gray.shape[1] // block * block
    tiles = gray[:h, :w].astype(np.float32).reshape(h // block, block, w // block, block)
    return float(np.mean(tiles.std(axis=(1, 3)) < 1.0))


def _crops(img: Image.Image, rng: np.random.Generator, n: int) -> list[Image.Image]:
    """n random square crops of CROP_MIN..CROP_MAX px at scales 1, 1/2, 1/4 (non-flat ones preferred)."""
    scales = [s for s in (1.0, 0.5, 0.25) if min(img.size) * s >= CROP_MAX]
    scaled = {s: img if s == 1.0 else img.resize((int(img.width * s), int(img.height * s)), Image.BOX) for s in scales}
    out: list[Image.Image] = []
    for _ in range(n * 3):
        if len(out) == n or not scales:
            break
        im = scaled[scales[rng.integers(len(scales))]]
        size = int(rng.integers(CROP_MIN // 64, CROP_MAX // 64 + 1)) * 64
        x, y = int(rng.integers(0, im.width - size + 1)), int(rng.integers(0, im.height - size + 1))
        crop = im.crop((x, y, x + size, y + size))
        if flat_fraction(np.asarray(crop.convert("L"))) < 0.6:
            out.append(crop)
    return out


def build_natural(out_dir: Path, crops_per_image: int = 24, seed: int = 0,
                  packages: tuple[str, ...] = WALLPAPER_PACKAGES) -> list[Source]:
    """Write crops and sources.json under out_dir/natural; returns the per-file records."""
    crop_dir = out_dir / "natural" / "crops"
    crop_dir.mkdir(parents=True, exist_ok=True)
    sources: list[Source] = []
    for package in packages:
        for path in wallpaper_files(package):
            img = _load_rgb(path)
            src = Source(package, path, licence_for(package, path), img.width, img.height)
            src.flat_fraction = round(flat_fraction(np.asarray(img.convert("L"))), 3)
            src.kept = src.flat_fraction < MAX_FLAT_FRACTION
            if src.kept:
                rng = np.random.default_rng([seed, len(sources)])
                stem = re.sub(r"[^A-Za-z0-9_-]", "_", _wallpaper_key(path))
                for i, crop in enumerate(_crops(img, rng, crops_per_image)):
                    name = f"{package}__{stem}__{i:03d}.jpg"
                    crop.save(crop_dir / name, quality=JPEG_QUALITY)
                    src.crops.append(name)
            sources.append(src)
    (out_dir / "natural" / "sources.json").write_text(json.dumps([asdict(s) for s in sources], indent=1))
    return sources
