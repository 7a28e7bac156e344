"""A drawing surface that records the exact box of every word it draws.

Data flow: Face(path, size, aa) + str -> cached glyph bitmaps -> pasted into Canvas.img;
           each word's glyph-bitmap union -> Canvas.boxes -> rasterise_boxes() -> text mask.

Glyphs are rasterised once per (face, char) and pasted (a FreeType call costs ~40 us per glyph here,
a paste ~7 us), which keeps a 1280x720 screen with ~1,000 words well under 0.2 s. Kerning is ignored.
A word's box is the union of its glyph bitmaps, so every ink pixel lies inside it by construction.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from .fonts import get_font

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive), pixels
Color = tuple[int, int, int]


@dataclass(frozen=True)
class Face:
    """One font file at one pixel size, anti-aliased (PIL fontmode "L") or not ("1")."""

    path: str
    size: int
    aa: bool = True

    def advance(self, text: str) -> int:
        """Pen advance of `text` in pixels (sum of cached per-glyph advances)."""
        return round(sum(_glyph(self, ch)[3] for ch in text))

    @property
    def line_height(self) -> int:
        ascent, descent = get_font(self.path, self.size).getmetrics()
        return ascent + descent


@functools.lru_cache(maxsize=65536)
def _glyph(face: Face, ch: str) -> tuple[Image.Image | None, int, int, float]:
    """(bitmap "L" or None for blank glyphs, x offset, y offset from the line top, advance)."""
    font = get_font(face.path, face.size)
    advance = font.getlength(ch)
    x0, y0, x1, y1 = font.getbbox(ch, mode="L" if face.aa else "1")
    if x1 <= x0 or y1 <= y0 or ch.isspace():
        return None, 0, 0, advance
    bitmap = Image.new("L", (x1 - x0, y1 - y0))
    draw = ImageDraw.Draw(bitmap)
    draw.fontmode = "L" if face.aa else "1"
    draw.text((-x0, -y0), ch, font=font, fill=255)
    if bitmap.getbbox() is None:
        return None, 0, 0, advance
    return bitmap, x0, y0, advance


class Canvas:
    """An RGB image plus the boxes of all words drawn on it (see module docstring)."""

    def __init__(self, width: int, height: int, background: Color) -> None:
        self.img = Image.new("RGB", (width, height), background)
        self.draw = ImageDraw.Draw(self.img)
        self.boxes: list[Box] = []

    @property
    def size(self) -> tuple[int, int]:
        return self.img.size

    def word(self, x: int, y: int, word: str, face: Face, fill: Color) -> int:
        """Draw one space-free word with its line top at y; record its box; return the pen x after it."""
        pen = float(x)
        bx0, by0, bx1, by1 = 1 << 30, 1 << 30, -(1 << 30), -(1 << 30)
        for ch in word:
            bitmap, ox, oy, adv = _glyph(face, ch)
            if bitmap is not None:
                gx, gy = round(pen) + ox, y + oy
                self.img.paste(fill, (gx, gy), bitmap)
                bx0, by0 = min(bx0, gx), min(by0, gy)
                bx1, by1 = max(bx1, gx + bitmap.width), max(by1, gy + bitmap.height)
            pen += adv
        w, h = self.img.size
        box = (max(bx0, 0), max(by0, 0), min(bx1, w), min(by1, h))
        if box[0] < box[2] and box[1] < box[3]:
            self.boxes.append(box)
        return round(pen)

    def text(self, x: int, y: int, text: str, face: Face, fill: Color, max_x: int | None = None) -> int:
        """Draw words separated by spaces, stopping before the first word that would pass max_x.

        Returns the pen x after the last drawn word.
        """
        limit = self.img.width if max_x is None else max_x
        space = face.advance(" ")
        pen = x
        tokens = text.split(" ")
        for i, token in enumerate(tokens):
            if token and pen + face.advance(token) > limit:
                break
            if token:
                pen = self.word(pen, y, token, face, fill)
            if i < len(tokens) - 1:
                pen += space
        return pen

    def paragraph(self, x: int, y: int, width: int, words: list[str], face: Face, fill: Color,
                  line_height: int, max_y: int | None = None) -> int:
        """Greedy word wrap into [x, x+width); stops at max_y. Returns the y below the last line."""
        bottom = self.img.height if max_y is None else max_y
        for line in wrap_lines(words, face, width):
            if y + line_height > bottom:
                break
            self.text(x, y, line, face, fill)
            y += line_height
        return y

    def paste(self, image: Image.Image, xy: tuple[int, int], mask: Image.Image | None = None) -> None:
        """Paste a non-text image (photo, chart body); draw text over it afterwards, never before."""
        self.img.paste(image, xy, mask)


def wrap_lines(words: list[str], face: Face, width: int) -> list[str]:
    """Greedy word wrap of words into lines no wider than width (a wider single word is dropped)."""
    space = face.advance(" ")
    lines: list[str] = []
    current: list[str] = []
    pen = 0
    for token in words:
        adv = face.advance(token)
        if adv > width:
            continue
        if current and pen + space + adv > width:
            lines.append(" ".join(current))
            current, pen = [], 0
        pen += (space if current else 0) + adv
        current.append(token)
    if current:
        lines.append(" ".join(current))
    return lines


def rasterise_boxes(boxes: list[Box], width: int, height: int) -> np.ndarray:
    """HxW uint8 {0,1} mask that is 1 exactly inside the union of the boxes."""
    mask = np.zeros((height, width), np.uint8)
    for x0, y0, x1, y1 in boxes:
        mask[y0:y1, x0:x1] = 1
    return mask


def color_fringes(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Sub-pixel-like colour fringes: shift R right and B left by one pixel, inside text boxes only.

    Restricting the shift to the mask keeps every changed pixel inside a word box (mask stays exact).
    """
    out = rgb.copy()
    inside = mask.astype(bool)
    out[:, 1:, 0][inside[:, 1:]] = rgb[:, :-1, 0][inside[:, 1:]]
    out[:, :-1, 2][inside[:, :-1]] = rgb[:, 1:, 2][inside[:, :-1]]
    return out
