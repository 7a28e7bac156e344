"""Font discovery for the synthetic screen renderer.

Data flow: /usr/share/fonts (Debian font packages) -> FONTS[family] = sorted file paths -> get_font(path, size).

Only Latin text fonts are kept (the Noto core package also ships hundreds of script-specific faces).
The lists are sorted, so a seed picks the same face on every machine with the same packages.
"""
from __future__ import annotations

import functools
import glob
import os
from typing import Final

from PIL import ImageFont

FONT_ROOT: Final = "/usr/share/fonts"

# family -> file-name globs (relative to FONT_ROOT, recursive). Families match what screens really use.
_PATTERNS: Final[dict[str, tuple[str, ...]]] = {
    "mono": (
        "**/DejaVuSansMono*.ttf", "**/LiberationMono-*.ttf", "**/NotoMono-*.ttf", "**/FiraCode-*.ttf",
        "**/JetBrainsMono-*.ttf", "**/Hack-*.ttf", "**/Inconsolata*.otf", "**/FreeMono*.ttf",
    ),
    "sans": (
        "**/DejaVuSans.ttf", "**/DejaVuSans-Bold*.ttf", "**/DejaVuSansCondensed*.ttf", "**/LiberationSans-*.ttf",
        "**/NotoSans-*.ttf", "**/Roboto-*.ttf", "**/RobotoCondensed-*.ttf", "**/OpenSans-*.ttf",
        "**/Lato-*.ttf", "**/Cantarell-*.otf", "**/Carlito-*.ttf", "**/FreeSans*.ttf",
    ),
    "serif": (
        "**/DejaVuSerif*.ttf", "**/LiberationSerif-*.ttf", "**/NotoSerif-*.ttf", "**/Caladea-*.ttf",
        "**/FreeSerif*.ttf",
    ),
}
# Hairline faces are unreadable at screen sizes; real UIs do not use them for body text.
_SKIP: Final = ("Thin", "Hairline", "ExtraLight")
_FALLBACK: Final = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def _discover() -> dict[str, dict[str, list[str]]]:
    """family -> {"regular": [...], "bold": [...]}; italics count as regular variety."""
    out: dict[str, dict[str, list[str]]] = {}
    for family, patterns in _PATTERNS.items():
        files = sorted({p for pat in patterns for p in glob.glob(os.path.join(FONT_ROOT, pat), recursive=True)})
        files = [f for f in files if not any(s in os.path.basename(f) for s in _SKIP)]
        bold = [f for f in files if any(s in os.path.basename(f) for s in ("Bold", "Black", "Heavy", "Semibold"))]
        regular = [f for f in files if f not in bold]
        out[family] = {"regular": regular or [_FALLBACK], "bold": bold or regular or [_FALLBACK]}
    return out


FONTS: Final = _discover()


@functools.lru_cache(maxsize=512)
def get_font(path: str, size: int) -> ImageFont.FreeTypeFont:
    """Load (and cache) one face at one pixel size; BASIC layout is ~2x faster than raqm for Latin text."""
    return ImageFont.truetype(path, size, layout_engine=ImageFont.Layout.BASIC)


def font_count() -> int:
    """Number of distinct font files available to the renderer."""
    return len({f for fam in FONTS.values() for files in fam.values() for f in files})
