"""Per-screen visual style: colour theme (light/dark), syntax palette, font faces, anti-aliasing.

Data flow: rng -> Style(theme, syntax, font paths, aa, base size) -> Style.face(role, size) -> canvas.Face.
A screen uses a few coherent faces (one UI family, one mono, one serif), as real software does.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .canvas import Color, Face
from .fonts import FONTS


@dataclass(frozen=True)
class Theme:
    dark: bool
    bg: Color
    fg: Color
    panel: Color  # sidebars, headers
    border: Color
    muted: Color  # secondary text
    accent: Color  # links, selection, primary buttons
    accent_fg: Color  # text on accent


@dataclass(frozen=True)
class Syntax:
    name: str
    bg: Color
    fg: Color
    keyword: Color
    string: Color
    comment: Color
    number: Color
    call: Color
    gutter: Color  # line-number colour


def _hex(h: str) -> Color:
    return (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16))


# Real editor palettes (bg, fg, keyword, string, comment, number, call, gutter).
SYNTAX_THEMES: tuple[Syntax, ...] = tuple(
    Syntax(name, *(_hex(c) for c in cols.split()))
    for name, cols in (
        ("monokai", "272822 f8f8f2 f92672 e6db74 75715e ae81ff a6e22e 90908a"),
        ("dracula", "282a36 f8f8f2 ff79c6 f1fa8c 6272a4 bd93f9 50fa7b 6272a4"),
        ("one-dark", "282c34 abb2bf c678dd 98c379 5c6370 d19a66 61afef 495162"),
        ("solarized-dark", "002b36 839496 859900 2aa198 586e75 d33682 268bd2 586e75"),
        ("vscode-dark", "1e1e1e d4d4d4 569cd6 ce9178 6a9955 b5cea8 dcdcaa 858585"),
        ("solarized-light", "fdf6e3 657b83 859900 2aa198 93a1a1 d33682 268bd2 93a1a1"),
        ("github-light", "ffffff 24292e d73a49 032f62 6a737d 005cc5 6f42c1 959da5"),
        ("vscode-light", "ffffff 000000 0000ff a31515 008000 098658 795e26 237893"),
    )
)

_ACCENTS: tuple[Color, ...] = tuple(_hex(c) for c in (
    "1a73e8 0b57d0 d93025 188038 e37400 a142f4 007acc 0f9d58 c2185b 5865f2 2ea44f 6f42c1 ff5722 00897b".split()))


def _jitter(rng: np.random.Generator, c: Color, amount: int) -> Color:
    return tuple(int(np.clip(v + rng.integers(-amount, amount + 1), 0, 255)) for v in c)  # type: ignore[return-value]


def random_theme(rng: np.random.Generator, dark: bool) -> Theme:
    tint = rng.integers(-6, 7, 3)
    if dark:
        g = int(rng.integers(14, 44))
        bg = tuple(int(np.clip(g + t, 0, 255)) for t in tint)
        panel, border = _jitter(rng, tuple(v + 14 for v in bg), 3), tuple(v + 34 for v in bg)
        fg = _jitter(rng, (int(rng.integers(195, 240)),) * 3, 6)
        muted = _jitter(rng, (int(rng.integers(120, 165)),) * 3, 6)
    else:
        g = int(rng.integers(238, 256))
        bg = tuple(int(np.clip(g + t, 0, 255)) for t in tint)
        panel, border = _jitter(rng, tuple(max(0, v - 14) for v in bg), 3), tuple(max(0, v - 40) for v in bg)
        fg = _jitter(rng, (int(rng.integers(15, 70)),) * 3, 6)
        muted = _jitter(rng, (int(rng.integers(95, 140)),) * 3, 6)
    accent = _ACCENTS[rng.integers(len(_ACCENTS))]
    return Theme(dark, bg, fg, panel, border, muted, accent, (255, 255, 255))  # type: ignore[arg-type]


def _same_family(path: str, candidates: list[str], rng: np.random.Generator) -> str:
    """A candidate from the same font family as `path` (file-name stem before '-'), else any."""
    stem = os.path.basename(path).split("-")[0].split(".")[0].replace("Bold", "").replace("Oblique", "")
    same = [c for c in candidates if os.path.basename(c).startswith(stem)]
    pool = same or candidates
    return pool[rng.integers(len(pool))]


def _upright(files: list[str]) -> list[str]:
    upright = [f for f in files if "Italic" not in f and "Oblique" not in f]
    return upright or files


@dataclass(frozen=True)
class Style:
    theme: Theme
    syntax: Syntax
    ui: str
    ui_bold: str
    mono: str
    mono_bold: str
    serif: str
    aa: bool
    fringes: bool
    base: int  # body text size in pixels

    def face(self, role: str, size: int | None = None) -> Face:
        """role in {ui, ui_bold, mono, mono_bold, serif}; size defaults to the screen's base size."""
        return Face(getattr(self, role), int(size or self.base), self.aa)


def random_style(rng: np.random.Generator, dark: bool | None = None) -> Style:
    dark = bool(rng.random() < 0.4) if dark is None else dark
    ui_family = ("sans", "sans", "sans", "serif")[rng.integers(4)]
    ui_files = _upright(FONTS[ui_family]["regular"])
    ui = ui_files[rng.integers(len(ui_files))]
    mono_files = _upright(FONTS["mono"]["regular"])
    mono = mono_files[rng.integers(len(mono_files))]
    serif_files = FONTS["serif"]["regular"]
    syntax_pool = [s for s in SYNTAX_THEMES if (s.bg[0] < 128) == dark]
    aa = bool(rng.random() < 0.8)
    return Style(
        theme=random_theme(rng, dark),
        syntax=syntax_pool[rng.integers(len(syntax_pool))],
        ui=ui,
        ui_bold=_same_family(ui, _upright(FONTS[ui_family]["bold"]), rng),
        mono=mono,
        mono_bold=_same_family(mono, _upright(FONTS["mono"]["bold"]), rng),
        serif=serif_files[rng.integers(len(serif_files))],
        aa=aa,
        fringes=aa and bool(rng.random() < 0.25),
        base=int(rng.choice([9, 10, 11, 12, 12, 13, 13, 14, 14, 15, 16, 18])),
    )
