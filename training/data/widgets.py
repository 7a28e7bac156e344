"""UI building blocks drawn on a Canvas: window chrome, buttons, form controls, icons, avatars.

Data flow: (Canvas, rng, Style, position) -> shapes first, then labels via Canvas.text (so labels
are recorded as word boxes and never painted over).
"""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from . import corpus, textures
from .canvas import Canvas, Color, Face
from .style import Style


def ri(rng: np.random.Generator, lo: int, hi: int) -> int:
    """rng.integers(lo, hi) that tolerates an empty range (tiny screens): returns lo."""
    return int(rng.integers(lo, hi)) if hi > lo else lo


def mix(a: Color, b: Color, t: float) -> Color:
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b))  # type: ignore[return-value]


def centered_text(cv: Canvas, cx: int, cy: int, text: str, face: Face, fill: Color) -> None:
    cv.text(cx - face.advance(text) // 2, cy - face.line_height // 2, text, face, fill)


def icon(cv: Canvas, rng: np.random.Generator, x: int, y: int, s: int, color: Color) -> None:
    """A small non-text pictogram (toolbar icon); glyph-like but not text, so not in the mask."""
    d, k = cv.draw, rng.integers(6)
    if k == 0:
        d.ellipse((x, y, x + s, y + s), outline=color, width=max(1, s // 8))
    elif k == 1:
        for i in range(3):
            yy = y + s * (i + 1) // 4
            d.line((x, yy, x + s, yy), fill=color, width=max(1, s // 8))
    elif k == 2:
        d.rounded_rectangle((x, y, x + s, y + s), radius=max(1, s // 5), outline=color, width=max(1, s // 8))
    elif k == 3:
        d.polygon([(x, y + s), (x + s // 2, y), (x + s, y + s)], fill=color)
    elif k == 4:
        d.line((x, y, x + s, y + s), fill=color, width=max(1, s // 6))
        d.line((x, y + s, x + s, y), fill=color, width=max(1, s // 6))
    else:
        d.rectangle((x, y + s // 3, x + s, y + s), fill=color)
        d.rectangle((x + s // 4, y, x + 3 * s // 4, y + s // 3), outline=color)


def titlebar(cv: Canvas, rng: np.random.Generator, st: Style, x0: int, y0: int, x1: int, title: str) -> int:
    """Window title bar (macOS dots or Windows/GNOME buttons); returns its bottom y."""
    t = st.theme
    face = st.face("ui", max(9, st.base - 1))
    h = face.line_height + ri(rng, 8, 16)
    cv.draw.rectangle((x0, y0, x1 - 1, y0 + h - 1), fill=mix(t.panel, t.border, 0.3))
    cy = y0 + h // 2
    r = max(3, h // 5)
    if rng.random() < 0.5:
        for i, c in enumerate(((255, 95, 87), (254, 188, 46), (40, 200, 64))):
            cx = x0 + 12 + i * (3 * r)
            cv.draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=c)
    else:
        for i in range(3):
            icon(cv, rng, x1 - (i + 1) * (3 * r) - 6, cy - r, 2 * r, t.muted)
    centered_text(cv, (x0 + x1) // 2, cy, title, face, t.fg)
    return y0 + h


def button(cv: Canvas, st: Style, x: int, y: int, label: str, primary: bool = False, face: Face | None = None) -> int:
    """A rounded push button with a label; returns its right x."""
    t = st.theme
    face = face or st.face("ui")
    w, h = face.advance(label) + 2 * max(8, face.size), face.line_height + max(6, face.size // 2)
    fill, fg = (t.accent, t.accent_fg) if primary else (t.panel, t.fg)
    cv.draw.rounded_rectangle((x, y, x + w, y + h), radius=max(2, h // 4), fill=fill, outline=t.border)
    centered_text(cv, x + w // 2, y + h // 2, label, face, fg)
    return x + w


def control(cv: Canvas, rng: np.random.Generator, st: Style, x: int, y: int, h: int) -> int:
    """One form control at (x, y) of height h (checkbox, toggle, radio, slider, field, dropdown); returns right x."""
    t, d, k = st.theme, cv.draw, rng.integers(6)
    s = max(8, h - 6)
    if k == 0:
        d.rectangle((x, y + 3, x + s, y + 3 + s), outline=t.muted, fill=t.accent if rng.random() < 0.5 else t.bg)
        return x + s
    if k == 1:
        on = rng.random() < 0.5
        d.rounded_rectangle((x, y + 3, x + 2 * s, y + 3 + s), radius=s // 2, fill=t.accent if on else t.border)
        cx = x + (3 * s // 2 if on else s // 2)
        d.ellipse((cx - s // 2 + 2, y + 5, cx + s // 2 - 2, y + 1 + s), fill=(255, 255, 255))
        return x + 2 * s
    if k == 2:
        d.ellipse((x, y + 3, x + s, y + 3 + s), outline=t.muted, width=2)
        if rng.random() < 0.5:
            d.ellipse((x + s // 4, y + 3 + s // 4, x + 3 * s // 4, y + 3 + 3 * s // 4), fill=t.accent)
        return x + s
    if k == 3:
        w = ri(rng, 80, 220)
        pos = x + ri(rng, 0, w)
        d.line((x, y + h // 2, x + w, y + h // 2), fill=t.border, width=3)
        d.line((x, y + h // 2, pos, y + h // 2), fill=t.accent, width=3)
        d.ellipse((pos - s // 2, y + h // 2 - s // 2, pos + s // 2, y + h // 2 + s // 2), fill=t.accent)
        return x + w
    w = ri(rng, 100, 260)
    d.rounded_rectangle((x, y, x + w, y + h), radius=3, outline=t.border, fill=t.bg)
    face = st.face("ui")
    cv.text(x + 6, y + (h - face.line_height) // 2, corpus.sentence(rng, 1, 3), face, t.fg if k == 4 else t.muted,
            max_x=x + w - 20)
    if k == 5:
        d.polygon([(x + w - 14, y + h // 2 - 2), (x + w - 6, y + h // 2 - 2), (x + w - 10, y + h // 2 + 3)],
                  fill=t.muted)
    return x + w


def scrollbar(cv: Canvas, rng: np.random.Generator, st: Style, x: int, y0: int, y1: int) -> None:
    t = st.theme
    cv.draw.rectangle((x, y0, x + 9, y1), fill=t.panel)
    top = y0 + ri(rng, 0, max(1, (y1 - y0) // 2))
    cv.draw.rounded_rectangle((x + 2, top, x + 7, top + max(20, (y1 - y0) // 3)), radius=2, fill=t.border)


def avatar(cv: Canvas, rng: np.random.Generator, st: Style, x: int, y: int, d: int, name: str) -> None:
    """Round profile picture (photo) or coloured disc with initials (initials are text)."""
    if rng.random() < 0.6:
        pic = textures.photo(rng, d, d)
        disc = Image.new("L", (d, d))
        ImageDraw.Draw(disc).ellipse((0, 0, d - 1, d - 1), fill=255)
        cv.paste(pic, (x, y), disc)
        return
    color = tuple(int(v) for v in rng.integers(60, 220, 3))
    cv.draw.ellipse((x, y, x + d - 1, y + d - 1), fill=color)
    initials = "".join(p[0] for p in name.split()[:2])
    centered_text(cv, x + d // 2, y + d // 2, initials, st.face("ui_bold", max(8, d // 2 - 2)), (255, 255, 255))
