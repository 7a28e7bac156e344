"""Charts for dashboards and slides: bar, line, area, scatter, horizontal bar and pie.

Data flow: (Canvas, rng, Style, box) -> plot body drawn at 1x or 2x (2x then box-filtered = anti-aliased
plotting library look) and pasted -> tick labels, title and legend drawn over/around it as text.
"""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from . import corpus
from .canvas import Box, Canvas, Color
from .style import Style
from .widgets import mix, ri

PALETTES: tuple[tuple[Color, ...], ...] = (
    ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75)),  # tab10
    ((66, 133, 244), (219, 68, 55), (244, 180, 0), (15, 157, 88), (171, 71, 188), (0, 172, 193)),
    ((0, 63, 92), (88, 80, 141), (188, 80, 144), (255, 99, 97), (255, 166, 0), (122, 81, 149)),
)
KINDS = ("bar", "line", "area", "scatter", "hbar", "pie")
_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def _series(rng: np.random.Generator, n_series: int, n: int) -> np.ndarray:
    """Random-walk series in [0.05, 0.95] (n_series x n)."""
    walk = np.cumsum(rng.normal(0, 1, (n_series, n)), axis=1) + rng.normal(0, 3, (n_series, 1))
    lo, hi = walk.min(), walk.max()
    return 0.05 + 0.9 * (walk - lo) / max(hi - lo, 1e-6)


def _body(rng: np.random.Generator, kind: str, w: int, h: int, bg: Color, grid: Color,
          colors: tuple[Color, ...], n_series: int, n: int) -> Image.Image:
    ss = 2 if rng.random() < 0.7 else 1
    W, H = w * ss, h * ss
    im = Image.new("RGB", (W, H), bg)
    d = ImageDraw.Draw(im)
    for i in range(1, 5):
        d.line((0, H * i // 5, W, H * i // 5), fill=grid, width=ss)
    data = _series(rng, n_series, n)
    xs = np.linspace(W * 0.03, W * 0.97, n)
    if kind in ("bar", "hbar"):
        slot = (H if kind == "hbar" else W) / n
        bw = slot * 0.8 / n_series
        bar = max(bw - ss, 0.0)  # a gap of ss pixels between bars, unless the bars are thinner than that
        for s in range(n_series):
            for i in range(n):
                a = slot * (i + 0.1) + s * bw
                if kind == "bar":
                    d.rectangle((a, H * (1 - data[s, i]), a + bar, H), fill=colors[s])
                else:
                    d.rectangle((0, a, W * data[s, i], a + bar), fill=colors[s])
    elif kind == "scatter":
        r = 2.5 * ss
        for s in range(n_series):
            px = rng.uniform(0, W, n * 4)
            py = np.clip(H * (1 - data[s, (px / W * (n - 1)).astype(int)]) + rng.normal(0, H * 0.05, n * 4), 0, H)
            for x, y in zip(px, py):
                d.ellipse((x - r, y - r, x + r, y + r), fill=colors[s])
    else:
        for s in range(n_series):
            pts = list(zip(xs, H * (1 - data[s])))
            if kind == "area":
                d.polygon(pts + [(xs[-1], H), (xs[0], H)], fill=mix(colors[s], bg, 0.55))
            d.line(pts, fill=colors[s], width=2 * ss, joint="curve")
    return im.resize((w, h), Image.BOX) if ss > 1 else im


def _pie(cv: Canvas, rng: np.random.Generator, st: Style, box: Box, colors: tuple[Color, ...]) -> None:
    x0, y0, x1, y1 = box
    d = max(8, min(x1 - x0, y1 - y0) - 4)
    ss = 3
    im = Image.new("RGB", (d * ss, d * ss), st.theme.bg)
    fracs = rng.dirichlet(np.ones(len(colors)))
    start = 0.0
    draw = ImageDraw.Draw(im)
    for f, c in zip(fracs, colors):
        draw.pieslice((0, 0, d * ss - 1, d * ss - 1), start, start + 360 * f, fill=c)
        start += 360 * f
    if rng.random() < 0.5:  # donut
        draw.ellipse((d * ss * 0.3, d * ss * 0.3, d * ss * 0.7, d * ss * 0.7), fill=st.theme.bg)
    cv.paste(im.resize((d, d), Image.BOX), (x0, y0))
    face = st.face("ui", max(9, st.base - 1))
    lx, ly = x0 + d + 12, y0 + 4
    for f, c in zip(fracs, colors):
        if ly + face.line_height > y1:
            break
        cv.draw.rectangle((lx, ly + 3, lx + 9, ly + 12), fill=c)
        cv.text(lx + 14, ly, f"{corpus.title(rng, 1, 2)} {100 * f:.0f}%", face, st.theme.fg, max_x=x1)
        ly += face.line_height + 4


def chart(cv: Canvas, rng: np.random.Generator, st: Style, box: Box, kind: str | None = None) -> None:
    """Draw a titled chart of a random (or the given) kind inside box."""
    t = st.theme
    x0, y0, x1, y1 = box
    head = st.face("ui_bold", max(10, st.base + ri(rng, 0, 4)))
    small = st.face("ui", max(9, st.base - ri(rng, 0, 3)))
    if y1 - y0 > 3 * head.line_height:
        cv.text(x0 + 4, y0 + 2, corpus.title(rng), head, t.fg, max_x=x1)
        y0 += head.line_height + 8
    kind = kind or KINDS[rng.integers(len(KINDS))]
    colors = PALETTES[rng.integers(len(PALETTES))]
    if kind == "pie":
        _pie(cv, rng, st, (x0 + 4, y0, x1, y1), colors)
        return
    label_w = small.advance("0000.0") + 6
    px0, py0, px1, py1 = x0 + label_w, y0 + 4, x1 - 6, y1 - small.line_height - 6
    if px1 - px0 < 16 or py1 - py0 < 16:
        return
    n_series, n = ri(rng, 1, 4), ri(rng, 5, 13)
    body = _body(rng, kind, px1 - px0, py1 - py0, t.bg, mix(t.bg, t.border, 0.6), colors, n_series, n)
    cv.paste(body, (px0, py0))
    cv.draw.line((px0, py0, px0, py1), fill=t.muted)
    cv.draw.line((px0, py1, px1, py1), fill=t.muted)
    top = float(rng.choice([1, 5, 10, 50, 100, 1000]))
    for i in range(6):  # y ticks at the grid lines (body draws 5 intervals)
        label = f"{top * (5 - i) / 5:g}"
        y = py0 + (py1 - py0) * i // 5 - small.line_height // 2
        cv.text(px0 - 4 - small.advance(label), max(y0, y), label, small, t.muted)
    step = max(1, (small.advance("Mmm") + 8) * n // max(1, px1 - px0) + 1)
    for i in range(0, n, step):
        label = _MONTHS[i % 12] if kind != "hbar" else str(i + 1)
        x = px0 + int((px1 - px0) * (i + 0.5) / n) - small.advance(label) // 2
        cv.text(x, py1 + 3, label, small, t.muted, max_x=x1)
    if n_series > 1 and rng.random() < 0.7:  # legend over the plot, drawn after it
        lx = px0 + 8
        for s in range(n_series):
            name = corpus.title(rng, 1, 1)
            if lx + small.advance(name) + 16 > px1:
                break
            cv.draw.rectangle((lx, py0 + 6, lx + 9, py0 + 15), fill=colors[s])
            lx = cv.text(lx + 13, py0 + 4, name, small, t.fg, max_x=px1) + 12
