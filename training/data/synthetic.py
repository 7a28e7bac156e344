"""Seeded synthetic screens (RGB + exact text mask + word boxes) for training the screen codec.

Data flow: seed -> rng -> kind + Style -> layout function draws shapes/photos/charts, then text through
Canvas (which records each word's glyph-bitmap box) -> mask = union of word boxes -> optional
sub-pixel-like colour fringes inside the mask -> Screen.

Exactness: every text pixel is drawn by Canvas.word, and layouts draw text after anything that could
cover it; composited windows (kind "desktop") subtract the covering window from the boxes below.
Deterministic per (seed, width, height, kind) for a given set of fonts and photo crops.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
from PIL import Image

from . import corpus, textures
from .canvas import Box, Canvas, Color, Face, color_fringes, rasterise_boxes, wrap_lines
from .charts import chart
from .style import Style, random_style
from .widgets import avatar, button, centered_text, control, icon, mix, ri, scrollbar, titlebar


@dataclass
class Screen:
    rgb: np.ndarray  # HxWx3 uint8
    text_mask: np.ndarray  # HxW uint8 {0,1}: 1 inside a word box
    word_boxes: list[tuple[int, int, int, int]]  # x0, y0, x1, y1 (exclusive)
    kind: str


# ---------------------------------------------------------------- terminal
def _terminal_line(rng: np.random.Generator, st: Style) -> list[tuple[str, Color]]:
    s, fg = st.syntax, st.syntax.fg
    k = rng.integers(7)
    if k == 0:
        cmd = corpus.SHELL_COMMANDS[rng.integers(len(corpus.SHELL_COMMANDS))]
        return [("dev@buildbox", s.call), (":", fg), (f"~/{corpus.filename(rng).split('.')[0]}", s.keyword),
                ("$ ", fg), (cmd, fg)]
    if k == 1:
        name = corpus.filename(rng)
        perm = "drwxr-xr-x" if rng.random() < 0.3 else "-rw-r--r--"
        meta = f"{perm} {ri(rng, 1, 9)} dev dev {ri(rng, 0, 99999):>6} Nov {ri(rng, 1, 29):>2} {ri(rng, 0, 24):02d}:{ri(rng, 0, 60):02d} "
        return [(meta, fg), (name, s.keyword if perm[0] == "d" else fg)]
    if k == 2:
        level, color = [("INFO", s.call), ("WARN", s.string), ("ERROR", s.keyword), ("DEBUG", s.comment)][rng.integers(4)]
        return [(corpus.timestamp(rng) + " ", s.comment), (f"[{level}] ", color), (corpus.sentence(rng, 3, 14), fg)]
    if k == 3:
        dots = "".join("." if rng.random() < 0.9 else "F" for _ in range(ri(rng, 3, 40)))
        return [(f"tests/test_{corpus.filename(rng).split('.')[0]}.py ", fg), (dots, s.call),
                (f" [{ri(rng, 1, 100):>3}%]", s.comment)]
    if k == 4:
        return [(f"{rng.integers(1 << 28):07x} ", s.string), (corpus.sentence(rng, 2, 9), fg)]
    if k == 5:
        return [("", fg)]
    return [(corpus.sentence(rng, 1, 16).lower(), fg)]


def _terminal_pane(cv: Canvas, rng: np.random.Generator, st: Style, box: Box, face: Face) -> None:
    x0, y0, x1, y1 = box
    lh = face.line_height + ri(rng, 0, 4)
    y = y0 + 4
    while y + lh <= y1:
        pen = x0 + 6
        for text, color in _terminal_line(rng, st):
            pen = cv.text(pen, y, text, face, color, max_x=x1 - 4)
        y += lh


def _terminal(cv: Canvas, rng: np.random.Generator, st: Style) -> None:
    w, h = cv.size
    cv.draw.rectangle((0, 0, w, h), fill=st.syntax.bg)
    top = titlebar(cv, rng, st, 0, 0, w, f"dev@buildbox: ~/{corpus.filename(rng)}") if rng.random() < 0.7 else 0
    face = st.face("mono", ri(rng, 9, 21))
    if rng.random() < 0.3 and w > 400:  # tmux-style split
        mid = ri(rng, w // 3, 2 * w // 3)
        cv.draw.line((mid, top, mid, h), fill=st.syntax.comment)
        _terminal_pane(cv, rng, st, (0, top, mid - 1, h), face)
        _terminal_pane(cv, rng, st, (mid + 1, top, w, h), face)
    else:
        _terminal_pane(cv, rng, st, (0, top, w, h), face)


# ---------------------------------------------------------------- IDE
def _code_line(cv: Canvas, x: int, y: int, line: str, face: Face, st: Style, max_x: int) -> None:
    """Syntax-highlighted code: one Canvas.word per token, spaces advance the pen."""
    s = st.syntax
    colors = {"comment": s.comment, "string": s.string, "number": s.number, "call": s.call, "keyword": s.keyword}
    pen, space = x, face.advance(" ")
    for tok, category in corpus.code_tokens(line):
        if category == "space":
            pen += space * len(tok)
            continue
        color = colors.get(category, s.fg)
        for part in tok.split(" "):  # comments/strings contain spaces
            if part and pen + face.advance(part) > max_x:
                return
            if part:
                pen = cv.word(pen, y, part, face, color)
            pen += space
        pen -= space


def _ide(cv: Canvas, rng: np.random.Generator, st: Style) -> None:
    w, h = cv.size
    s, t = st.syntax, st.theme
    cv.draw.rectangle((0, 0, w, h), fill=s.bg)
    side_bg, bar_bg = mix(s.bg, s.fg, 0.06), mix(s.bg, s.fg, 0.1)
    ui = st.face("ui", max(9, st.base - 1))
    top = titlebar(cv, rng, st, 0, 0, w, f"{corpus.filename(rng)} - project") if rng.random() < 0.6 else 0
    status_h = ui.line_height + 6
    x = 0
    if rng.random() < 0.7:  # activity bar
        cv.draw.rectangle((0, top, 40, h), fill=bar_bg)
        for i in range(ri(rng, 3, 7)):
            icon(cv, rng, 10, top + 12 + i * 44, 20, s.comment)
        x = 41
    if rng.random() < 0.8 and w > 500:  # file tree
        tree_w = ri(rng, 160, max(161, min(320, w // 3)))
        cv.draw.rectangle((x, top, x + tree_w, h), fill=side_bg)
        y = top + 8
        cv.text(x + 10, y, "EXPLORER", st.face("ui_bold", max(9, st.base - 2)), s.comment)
        y += ui.line_height + 8
        while y + ui.line_height < h - status_h:
            depth = ri(rng, 0, 4)
            if rng.random() < 0.08:
                cv.draw.rectangle((x, y - 2, x + tree_w, y + ui.line_height + 1), fill=mix(side_bg, t.accent, 0.35))
            cv.text(x + 12 + depth * 14, y, corpus.filename(rng), ui, s.fg, max_x=x + tree_w - 4)
            y += ui.line_height + 4
        x += tree_w + 1
    tab_h = ui.line_height + 14
    cv.draw.rectangle((x, top, w, top + tab_h), fill=bar_bg)
    tx = x
    for i in range(ri(rng, 1, 6)):
        name = corpus.filename(rng)
        tw = ui.advance(name) + 32
        if tx + tw > w:
            break
        if i == 0:
            cv.draw.rectangle((tx, top, tx + tw, top + tab_h), fill=s.bg)
        cv.text(tx + 16, top + 7, name, ui, s.fg if i == 0 else s.comment)
        tx += tw
    code = st.face("mono", ri(rng, 10, 19))
    lh = code.line_height + ri(rng, 1, 6)
    n_lines = max(1, (h - status_h - top - tab_h - 8) // lh)
    gutter = code.advance("0000") + 14
    minimap = w - 90 if rng.random() < 0.5 and w > 700 else w - 12
    first = ri(rng, 1, 900)
    y = top + tab_h + 6
    for i, line in enumerate(corpus.code_lines(rng, n_lines)):
        num = str(first + i)
        cv.text(x + gutter - 10 - code.advance(num), y, num, code, s.gutter)
        _code_line(cv, x + gutter, y, line, code, st, minimap - 6)
        if minimap < w - 12 and line.strip():  # minimap: coloured bars, not readable text
            indent = (len(line) - len(line.lstrip())) // 2
            cv.draw.line((minimap + 6 + indent, top + tab_h + 6 + i * 3, minimap + 6 + min(80, indent + len(line.strip()) // 2),
                          top + tab_h + 6 + i * 3), fill=mix(s.bg, s.fg, 0.35))
        y += lh
    scrollbar(cv, rng, st, w - 11, top + tab_h, h - status_h)
    cv.draw.rectangle((0, h - status_h, w, h), fill=t.accent if rng.random() < 0.6 else bar_bg)
    cv.text(8, h - status_h + 3, f"main  Ln {ri(rng, 1, 900)}, Col {ri(rng, 1, 80)}  UTF-8  Python", ui, (255, 255, 255))


# ---------------------------------------------------------------- spreadsheet
def _spreadsheet(cv: Canvas, rng: np.random.Generator, st: Style) -> None:
    w, h = cv.size
    t = st.theme
    ui = st.face("ui", max(9, st.base - 1))
    cv.draw.rectangle((0, 0, w, ui.line_height + 10), fill=t.panel)
    cv.text(10, 5, "File Edit View Insert Format Data Tools Extensions Help", ui, t.fg)
    y = ui.line_height + 10
    ribbon_h = 34
    cv.draw.rectangle((0, y, w, y + ribbon_h), fill=mix(t.panel, t.bg, 0.5))
    for i in range(min(30, w // 34)):
        icon(cv, rng, 10 + i * 34, y + 8, 16, t.muted)
    y += ribbon_h
    cell = st.face("ui", ri(rng, 10, 16))
    row_h = cell.line_height + ri(rng, 6, 12)
    cv.draw.rectangle((0, y, w, y + row_h), fill=t.bg)
    cv.text(8, y + (row_h - cell.line_height) // 2, f"fx  =SUM({chr(65 + ri(rng, 0, 6))}2:{chr(65 + ri(rng, 0, 6))}{ri(rng, 3, 60)})",
            cell, t.fg)
    y += row_h + 1
    head_bg, grid = mix(t.panel, t.border, 0.3), mix(t.bg, t.border, 0.7)
    row_head_w = cell.advance("000") + 12
    col_ws, cx = [], row_head_w
    while cx < w:
        col_ws.append(ri(rng, 60, 180))
        cx += col_ws[-1]
    sheet_tabs_h = cell.line_height + 10
    n_rows = max(1, (h - y - row_h - sheet_tabs_h) // row_h)
    chart_box = None
    if rng.random() < 0.35 and w > 600 and n_rows > 12:
        cw, ch = ri(rng, 280, w // 2), ri(rng, 180, max(181, n_rows * row_h // 2))
        chart_box = (w - cw - 30, y + row_h * 3, w - 30, y + row_h * 3 + ch)
    cv.draw.rectangle((0, y, w, y + row_h), fill=head_bg)
    cv.draw.rectangle((0, y, row_head_w, h - sheet_tabs_h), fill=head_bg)
    col_kind = [rng.integers(3) for _ in col_ws]  # 0 text, 1 number, 2 mixed
    x = row_head_w
    for c, cw in enumerate(col_ws):
        centered_text(cv, x + cw // 2, y + row_h // 2, chr(65 + c % 26), cell, t.muted)
        x += cw
    for r in range(n_rows + 1):
        yy = y + r * row_h
        cv.draw.line((0, yy, w, yy), fill=grid)
        if r == 0:
            continue
        centered_text(cv, row_head_w // 2, yy + row_h // 2, str(r), cell, t.muted)
        x = row_head_w
        for c, cw in enumerate(col_ws):
            cell_box = (x, yy, x + cw, yy + row_h)
            x += cw
            if chart_box and not (cell_box[2] <= chart_box[0] or cell_box[0] >= chart_box[2]
                                  or cell_box[3] <= chart_box[1] or cell_box[1] >= chart_box[3]):
                continue
            if rng.random() < 0.12:
                continue
            if rng.random() < 0.06:
                cv.draw.rectangle((cell_box[0] + 1, yy + 1, cell_box[2] - 1, yy + row_h - 1),
                                  fill=mix(t.bg, tuple(int(v) for v in rng.integers(0, 256, 3)), 0.3))
            face = st.face("ui_bold", cell.size) if r == 1 else cell
            value = corpus.title(rng, 1, 2) if (r == 1 or col_kind[c] == 0) else corpus.number(rng)
            tx = cell_box[2] - 5 - face.advance(value) if (r > 1 and col_kind[c]) else cell_box[0] + 5
            cv.text(max(cell_box[0] + 3, tx), yy + (row_h - face.line_height) // 2, value, face, t.fg, max_x=cell_box[2] - 3)
    x = row_head_w
    for cw in col_ws:
        cv.draw.line((x, y, x, y + n_rows * row_h), fill=grid)
        x += cw
    if chart_box:
        cv.draw.rectangle(chart_box, fill=t.bg, outline=t.border)
        chart(cv, rng, st, (chart_box[0] + 8, chart_box[1] + 6, chart_box[2] - 8, chart_box[3] - 6))
    ty = h - sheet_tabs_h
    cv.draw.rectangle((0, ty, w, h), fill=t.panel)
    tx = 40
    for i in range(ri(rng, 1, 5)):
        tx = cv.text(tx, ty + 5, f"Sheet{i + 1}" if rng.random() < 0.5 else corpus.title(rng, 1, 2), cell,
                     t.accent if i == 0 else t.fg) + 24


# ---------------------------------------------------------------- slide
def _slide(cv: Canvas, rng: np.random.Generator, st: Style) -> None:
    w, h = cv.size
    t = st.theme
    x0, y0, x1, y1 = 0, 0, w, h
    if rng.random() < 0.5 and w > 500:  # presentation app around the slide
        ui = st.face("ui", max(9, st.base - 1))
        y0 = titlebar(cv, rng, st, 0, 0, w, f"{corpus.title(rng)}.pptx")
        cv.draw.rectangle((0, y0, w, y0 + 36), fill=t.panel)
        cv.text(10, y0 + (36 - ui.line_height) // 2, "Home Insert Design Transitions Animations Slide Show Review View", ui, t.fg,
                max_x=w - 10)
        y0 += 37
        strip = ri(rng, 120, 200)
        cv.draw.rectangle((0, y0, strip, h), fill=t.panel)
        ty = y0 + 10
        while ty + strip * 9 // 16 < h:
            thumb = (18, ty, strip - 10, ty + (strip - 28) * 9 // 16)
            cv.draw.rectangle(thumb, fill=mix(t.bg, t.accent, rng.uniform(0, 0.4)), outline=t.border)
            ty = thumb[3] + 12
        x0 = strip + 20
        y0 += 20
        x1, y1 = w - 20, h - 20
    # the slide itself: 16:9 inside the free area
    sw = min(x1 - x0, (y1 - y0) * 16 // 9)
    sh = sw * 9 // 16
    sx, sy = x0 + (x1 - x0 - sw) // 2, y0 + (y1 - y0 - sh) // 2
    dark = rng.random() < 0.35
    bg: Color = (30, 34, 48) if dark else (255, 255, 255)
    fg: Color = (240, 240, 240) if dark else (30, 30, 40)
    cv.draw.rectangle((sx, sy, sx + sw, sy + sh), fill=bg)
    scale = sw / 1280
    full_bleed = rng.random() < 0.2
    if full_bleed:  # photo background with a dark band for the title
        cv.paste(textures.photo(rng, sw, sh), (sx, sy))
        band = cv.img.crop((sx, sy + sh // 3, sx + sw, sy + 2 * sh // 3))
        cv.paste(Image.blend(band, Image.new("RGB", band.size, (0, 0, 0)), 0.55), (sx, sy + sh // 3))
        big = st.face("ui_bold", max(12, min(40, int(64 * scale))))
        centered_text(cv, sx + sw // 2, sy + sh // 2 - big.line_height // 2, corpus.title(rng, 2, 5), big, (255, 255, 255))
        sub = st.face("ui", max(10, int(30 * scale)))
        centered_text(cv, sx + sw // 2, sy + sh // 2 + big.line_height, corpus.person(rng), sub, (230, 230, 230))
        return
    accent = t.accent
    cv.draw.rectangle((sx, sy, sx + sw, sy + max(3, int(12 * scale))), fill=accent)
    title_face = st.face("ui_bold", max(12, min(40, int(ri(rng, 44, 64) * scale))))
    pad = int(60 * scale)
    cv.text(sx + pad, sy + pad, corpus.title(rng, 2, 6), title_face, fg, max_x=sx + sw - pad)
    body_top = sy + pad + title_face.line_height + int(30 * scale)
    half = sx + sw // 2
    bullet = st.face("ui", max(9, min(32, int(ri(rng, 26, 36) * scale))))
    y = body_top
    for _ in range(ri(rng, 2, 6)):
        lines = wrap_lines(corpus.words(rng, ri(rng, 3, 14)), bullet, half - sx - pad - 30)
        if y + bullet.line_height * len(lines) > sy + sh - pad:
            break
        r = max(2, bullet.size // 6)
        cv.draw.ellipse((sx + pad, y + bullet.line_height // 2 - r, sx + pad + 2 * r, y + bullet.line_height // 2 + r), fill=accent)
        for line in lines:
            cv.text(sx + pad + 4 * r + 6, y, line, bullet, fg)
            y += bullet.line_height
        y += int(14 * scale)
    right = (half + int(20 * scale), body_top, sx + sw - pad, sy + sh - pad)
    if right[2] - right[0] > 40 and right[3] - right[1] > 40:
        if rng.random() < 0.5:
            cv.paste(textures.photo(rng, right[2] - right[0], right[3] - right[1]), right[:2])
        else:
            chart(cv, rng, _slide_style(st, dark), right)
    foot = st.face("ui", max(9, int(18 * scale)))
    cv.text(sx + pad, sy + sh - foot.line_height - 6, f"{corpus.title(rng, 1, 2)} | Confidential", foot, mix(fg, bg, 0.4))
    cv.text(sx + sw - pad, sy + sh - foot.line_height - 6, str(ri(rng, 2, 40)), foot, mix(fg, bg, 0.4))


def _slide_style(st: Style, dark: bool) -> Style:
    """The slide's own colours for its chart (slides ignore the app theme)."""
    bg: Color = (30, 34, 48) if dark else (255, 255, 255)
    fg: Color = (240, 240, 240) if dark else (30, 30, 40)
    return replace(st, theme=replace(st.theme, bg=bg, fg=fg, muted=mix(fg, bg, 0.35), border=mix(fg, bg, 0.7)))


# ---------------------------------------------------------------- dashboard
def _card_grid(rng: np.random.Generator, box: Box, gap: int) -> list[Box]:
    x0, y0, x1, y1 = box
    rows = ri(rng, 2, 4) if y1 - y0 > 300 else 1
    cards, y = [], y0
    for r in range(rows):
        rh = (y1 - y0 - gap * (rows - 1)) // rows
        cols = ri(rng, 1, 5) if x1 - x0 > 500 else 1
        cw = (x1 - x0 - gap * (cols - 1)) // cols
        cards += [(x0 + c * (cw + gap), y, x0 + c * (cw + gap) + cw, y + rh) for c in range(cols)]
        y += rh + gap
    return cards


def _dashboard(cv: Canvas, rng: np.random.Generator, st: Style) -> None:
    w, h = cv.size
    t = st.theme
    page_bg = mix(t.bg, t.panel, 0.8)
    cv.draw.rectangle((0, 0, w, h), fill=page_bg)
    ui, bold = st.face("ui"), st.face("ui_bold", st.base + 2)
    nav_h = ui.line_height + 22
    cv.draw.rectangle((0, 0, w, nav_h), fill=t.accent if rng.random() < 0.4 else t.bg)
    x = cv.text(16, (nav_h - bold.line_height) // 2, corpus.title(rng, 1, 2), bold, t.fg) + 30
    for _ in range(ri(rng, 2, 6)):
        x = cv.text(x, (nav_h - ui.line_height) // 2, corpus.title(rng, 1, 1), ui, t.muted, max_x=w - 10) + 20
    left = 0
    if rng.random() < 0.5 and w > 700:
        left = ri(rng, 160, 240)
        cv.draw.rectangle((0, nav_h, left, h), fill=t.panel)
        y = nav_h + 14
        while y + ui.line_height < h:
            icon(cv, rng, 14, y + 2, max(8, ui.line_height - 4), t.muted)
            cv.text(20 + ui.line_height, y, corpus.title(rng, 1, 2), ui, t.fg, max_x=left - 6)
            y += ui.line_height + 14
    gap = ri(rng, 8, 20)
    for card in _card_grid(rng, (left + gap, nav_h + gap, w - gap, h - gap), gap):
        cx0, cy0, cx1, cy1 = card
        if cx1 - cx0 < 40 or cy1 - cy0 < 30:
            continue
        cv.draw.rounded_rectangle(card, radius=ri(rng, 0, 10), fill=t.bg, outline=t.border)
        inner = (cx0 + 12, cy0 + 10, cx1 - 12, cy1 - 10)
        k = rng.random()
        if k < 0.3 or cy1 - cy0 < 120:  # KPI
            small = st.face("ui", max(9, st.base - 1))
            cv.text(inner[0], inner[1], corpus.title(rng, 1, 3), small, t.muted, max_x=inner[2])
            big = st.face("ui_bold", min(40, max(14, (cy1 - cy0) // 3)))
            y = inner[1] + small.line_height + 6
            if y + big.line_height < cy1:
                end = cv.text(inner[0], y, corpus.number(rng), big, t.fg, max_x=inner[2])
                up = rng.random() < 0.6
                cv.text(end + 10, y + big.line_height - small.line_height, f"{'+' if up else '-'}{rng.uniform(0, 30):.1f}%",
                        small, (24, 160, 60) if up else (210, 50, 50), max_x=inner[2])
        elif k < 0.85:
            chart(cv, rng, st, inner)
        else:  # small table
            small = st.face("ui", max(9, st.base - 1))
            rh = small.line_height + 8
            cols = ri(rng, 2, 5)
            colw = (inner[2] - inner[0]) // cols
            for r in range((inner[3] - inner[1]) // rh):
                yy = inner[1] + r * rh
                if r:
                    cv.draw.line((inner[0], yy - 3, inner[2], yy - 3), fill=mix(t.bg, t.border, 0.5))
                for c in range(cols):
                    text = corpus.title(rng, 1, 1) if r == 0 or c == 0 else corpus.number(rng)
                    cv.text(inner[0] + c * colw, yy, text, st.face("ui_bold", small.size) if r == 0 else small,
                            t.fg, max_x=inner[0] + (c + 1) * colw - 4)


# ---------------------------------------------------------------- chat
def _chat(cv: Canvas, rng: np.random.Generator, st: Style) -> None:
    w, h = cv.size
    t = st.theme
    ui, bold, small = st.face("ui"), st.face("ui_bold"), st.face("ui", max(9, st.base - 2))
    left = 0
    if w > 600:
        left = ri(rng, 220, min(360, w // 2))
        cv.draw.rectangle((0, 0, left, h), fill=t.panel)
        y, d = 12, bold.line_height + small.line_height + 4
        while y + d < h:
            name = corpus.person(rng)
            avatar(cv, rng, st, 12, y, d, name)
            cv.text(20 + d, y, name, bold, t.fg, max_x=left - 60)
            cv.text(left - 10 - small.advance("12:34"), y, f"{ri(rng, 0, 24):02d}:{ri(rng, 0, 60):02d}", small, t.muted)
            cv.text(20 + d, y + bold.line_height + 2, corpus.sentence(rng, 2, 8), small, t.muted, max_x=left - 10)
            y += d + 14
    header_h = bold.line_height + 24
    cv.draw.rectangle((left, 0, w, header_h), fill=t.bg)
    cv.draw.line((left, header_h, w, header_h), fill=t.border)
    cv.text(left + 16, (header_h - bold.line_height) // 2, f"# {corpus.title(rng, 1, 2).lower().replace(' ', '-')}", bold, t.fg)
    input_h = ui.line_height + 24
    y = header_h + 12
    mine_bg, theirs_bg = t.accent, mix(t.panel, t.border, 0.3)
    max_bubble = max(80, int((w - left) * 0.65))
    while True:
        mine = rng.random() < 0.4
        face = ui if rng.random() < 0.85 else st.face("mono", max(9, st.base - 1))
        if rng.random() < 0.12:  # photo attachment
            pw, ph = ri(rng, 160, 360), ri(rng, 100, 240)
            if y + ph + 10 > h - input_h:
                break
            px = w - 20 - pw if mine else left + 20
            cv.paste(textures.photo(rng, pw, ph), (px, y))
            y += ph + 12
            continue
        lines = wrap_lines(corpus.words(rng, ri(rng, 2, 40)), face, max_bubble - 24) or ["ok"]
        bh = len(lines) * face.line_height + 16 + small.line_height
        if y + bh > h - input_h - 8:
            break
        bw = min(max_bubble, max(face.advance(line) for line in lines) + 24)
        bx = w - 20 - bw if mine else left + 20
        cv.draw.rounded_rectangle((bx, y, bx + bw, y + bh), radius=ri(rng, 4, 16), fill=mine_bg if mine else theirs_bg)
        fg = t.accent_fg if mine else t.fg
        cv.text(bx + 12, y + 6, f"{corpus.person(rng) if not mine else 'You'}  {ri(rng, 0, 24):02d}:{ri(rng, 0, 60):02d}",
                small, mix(fg, mine_bg if mine else theirs_bg, 0.3), max_x=bx + bw - 6)
        ty = y + 8 + small.line_height
        for line in lines:
            cv.text(bx + 12, ty, line, face, fg, max_x=bx + bw)
            ty += face.line_height
        y += bh + ri(rng, 6, 16)
    iy = h - input_h
    cv.draw.rectangle((left, iy, w, h), fill=t.bg)
    cv.draw.rounded_rectangle((left + 12, iy + 6, w - 90, h - 6), radius=8, outline=t.border)
    cv.text(left + 24, iy + (input_h - ui.line_height) // 2, "Type a message", ui, t.muted, max_x=w - 100)
    if w - left > 200:
        button(cv, st, w - 80, iy + 6, "Send", True, small)


# ---------------------------------------------------------------- video call
def _video_call(cv: Canvas, rng: np.random.Generator, st: Style) -> None:
    w, h = cv.size
    cv.draw.rectangle((0, 0, w, h), fill=(24, 24, 28))
    ui = st.face("ui", max(10, st.base))
    bar_h = 64 if h > 300 else 0
    side = ri(rng, 240, 340) if rng.random() < 0.3 and w > 900 else 0
    n = int(rng.choice([2, 4, 4, 6, 9, 9, 12, 16]))
    cols = int(np.ceil(np.sqrt(n * (w - side) / max(1, h - bar_h) * 9 / 16)))
    cols = max(1, min(n, cols))
    rows = int(np.ceil(n / cols))
    gap = 8
    tw = (w - side - gap * (cols + 1)) // cols
    th = min((h - bar_h - gap * (rows + 1)) // rows, tw * 9 // 16)
    oy = (h - bar_h - rows * th - gap * (rows - 1)) // 2
    speaker = ri(rng, 0, n)
    for i in range(n):
        r, c = divmod(i, cols)
        x, y = gap + c * (tw + gap), oy + r * (th + gap)
        if tw < 20 or th < 20:
            break
        name = corpus.person(rng)
        if rng.random() < 0.8:
            cv.paste(textures.photo(rng, tw, th), (x, y))
        else:  # camera off
            cv.draw.rectangle((x, y, x + tw, y + th), fill=(48, 50, 56))
            d = min(tw, th) // 3
            avatar(cv, rng, st, x + tw // 2 - d // 2, y + th // 2 - d // 2, d, name)
        if i == speaker:
            cv.draw.rectangle((x, y, x + tw - 1, y + th - 1), outline=st.theme.accent, width=3)
        lw = ui.advance(name) + 16 + 18
        ly = y + th - ui.line_height - 12
        if lw < tw - 8 and ly > y:
            label = cv.img.crop((x + 6, ly, x + 6 + lw, y + th - 6))
            cv.paste(Image.blend(label, Image.new("RGB", label.size, (0, 0, 0)), 0.6), (x + 6, ly))
            icon(cv, rng, x + 10, ly + 4, max(6, ui.line_height - 6), (230, 230, 230))
            cv.text(x + 28, ly + 3, name, ui, (255, 255, 255))
    if side:
        t = st.theme
        cv.draw.rectangle((w - side, 0, w, h - bar_h), fill=(36, 37, 42))
        small = st.face("ui", max(9, st.base - 1))
        y = 12
        cv.text(w - side + 12, y, "Meeting chat", st.face("ui_bold"), (240, 240, 240))
        y += 30
        while y + 3 * small.line_height < h - bar_h:
            cv.text(w - side + 12, y, corpus.person(rng), st.face("ui_bold", small.size), t.accent)
            y = cv.paragraph(w - side + 12, y + small.line_height, side - 24, corpus.words(rng, ri(rng, 3, 20)), small,
                             (220, 220, 220), small.line_height, h - bar_h) + 8
    if bar_h:
        by = h - bar_h
        cv.draw.rectangle((0, by, w, h), fill=(32, 33, 36))
        n_btn = 6
        bx = w // 2 - n_btn * 28
        for i in range(n_btn):
            cv.draw.ellipse((bx + i * 56, by + 10, bx + i * 56 + 44, by + 54), fill=(60, 64, 67))
            icon(cv, rng, bx + i * 56 + 12, by + 22, 20, (240, 240, 240))
        if bx + n_btn * 56 + 120 < w:
            button(cv, st, bx + n_btn * 56 + 16, by + 14, "Leave", True)
        cv.text(16, by + (bar_h - ui.line_height) // 2, f"{ri(rng, 0, 24):02d}:{ri(rng, 0, 60):02d} | {corpus.title(rng, 2, 4)}",
                ui, (230, 230, 230), max_x=max(16, bx - 10))


# ---------------------------------------------------------------- settings dialog
def _settings(cv: Canvas, rng: np.random.Generator, st: Style) -> None:
    w, h = cv.size
    t = st.theme
    cv.paste(textures.photo(rng, w, h) if rng.random() < 0.5 else Image.new("RGB", (w, h), t.panel), (0, 0))
    dw, dh = min(w - 20, ri(rng, 600, 1000)), min(h - 20, ri(rng, 420, 680))
    x0, y0 = (w - dw) // 2, (h - dh) // 2
    cv.draw.rectangle((x0 + 4, y0 + 6, x0 + dw + 4, y0 + dh + 6), fill=(20, 20, 20))  # shadow
    cv.draw.rectangle((x0, y0, x0 + dw, y0 + dh), fill=t.bg, outline=t.border)
    top = titlebar(cv, rng, st, x0, y0, x0 + dw, "Preferences" if rng.random() < 0.5 else corpus.title(rng, 1, 2))
    ui, bold, small = st.face("ui"), st.face("ui_bold", st.base + 3), st.face("ui", max(9, st.base - 2))
    nav_w = min(ri(rng, 150, 220), dw // 3)
    cv.draw.rectangle((x0 + 1, top, x0 + nav_w, y0 + dh - 1), fill=t.panel)
    y, sel = top + 10, ri(rng, 0, 6)
    for i in range(12):
        if y + ui.line_height + 10 > y0 + dh - 50:
            break
        if i == sel:
            cv.draw.rectangle((x0 + 6, y - 4, x0 + nav_w - 6, y + ui.line_height + 4), fill=t.accent)
        cv.text(x0 + 14, y, corpus.title(rng, 1, 2), ui, t.accent_fg if i == sel else t.fg, max_x=x0 + nav_w - 8)
        y += ui.line_height + 12
    px, y = x0 + nav_w + 20, top + 14
    foot = y0 + dh - ui.line_height - 30
    cv.text(px, y, corpus.title(rng, 1, 3), bold, t.fg, max_x=x0 + dw - 10)
    y += bold.line_height + 12
    row_h = max(ui.line_height + 8, 26)
    while y + row_h + small.line_height < foot - 10:
        label_end = cv.text(px, y + (row_h - ui.line_height) // 2, corpus.title(rng, 1, 4), ui, t.fg, max_x=px + (dw - nav_w) // 2)
        control(cv, rng, st, max(label_end + 16, x0 + dw - 290), y, row_h)
        y += row_h + 2
        if rng.random() < 0.4:
            cv.text(px, y, corpus.sentence(rng, 4, 12), small, t.muted, max_x=x0 + dw - 20)
            y += small.line_height
        y += 10
    bx = x0 + dw - 16
    for label, primary in (("OK", True), ("Apply", False), ("Cancel", False)):
        bw = ui.advance(label) + 2 * max(8, ui.size)
        if bx - bw < px:
            break
        button(cv, st, bx - bw, foot, label, primary)
        bx -= bw + 10


# ---------------------------------------------------------------- documentation page
_SPAN_STYLES = ("plain",) * 14 + ("code", "link", "bold")


def _rich_paragraph(cv: Canvas, rng: np.random.Generator, st: Style, x: int, y: int, width: int, face: Face,
                    lh: int, max_y: int) -> int:
    """Running text with inline code (mono on a tinted box), links and bold words."""
    t = st.theme
    code = Face(st.mono, max(8, face.size - 1), st.aa)
    pen, space = x, face.advance(" ")
    for word in corpus.words(rng, ri(rng, 10, 80)):
        kind = _SPAN_STYLES[rng.integers(len(_SPAN_STYLES))]
        f = code if kind == "code" else (Face(st.ui_bold, face.size, st.aa) if kind == "bold" else face)
        adv = f.advance(word)
        if adv > width:
            continue
        if pen + adv > x + width:
            pen, y = x, y + lh
        if y + lh > max_y:
            return y
        if kind == "code":
            cv.draw.rounded_rectangle((pen - 2, y, pen + adv + 2, y + face.line_height), radius=3, fill=mix(t.bg, t.fg, 0.08))
        color = t.accent if kind == "link" else t.fg
        pen = cv.word(pen, y, word, f, color) + space
    return y + lh


def _docs(cv: Canvas, rng: np.random.Generator, st: Style) -> None:
    w, h = cv.size
    t = st.theme
    ui, small = st.face("ui"), st.face("ui", max(9, st.base - 1))
    body = st.face("serif" if rng.random() < 0.3 else "ui", ri(rng, 12, 19))
    nav_h = ui.line_height + 20
    cv.draw.rectangle((0, 0, w, nav_h), fill=t.panel if rng.random() < 0.6 else mix(t.accent, (0, 0, 0), 0.3))
    x = cv.text(16, 10, f"{corpus.title(rng, 1, 2)} {ri(rng, 1, 9)}.{ri(rng, 0, 20)} documentation", st.face("ui_bold"), t.fg,
                max_x=w // 2)
    if w - x > 260:
        cv.draw.rounded_rectangle((w - 240, 6, w - 16, nav_h - 6), radius=4, fill=t.bg, outline=t.border)
        cv.text(w - 228, (nav_h - small.line_height) // 2, "Search docs", small, t.muted)
    left = ri(rng, 200, 300) if w > 800 else 0
    if left:
        cv.draw.rectangle((0, nav_h, left, h), fill=t.panel)
        y = nav_h + 16
        while y + small.line_height < h:
            depth = int(rng.random() < 0.6)
            cv.text(16 + 16 * depth, y, corpus.title(rng, 1, 4), small, t.accent if depth else t.fg, max_x=left - 8)
            y += small.line_height + 8
    right = ri(rng, 180, 260) if w > 1300 else 0
    cx0, cx1 = left + 40, w - right - 40
    if right:
        y = nav_h + 16
        cv.text(w - right, y, "On this page", st.face("ui_bold", small.size), t.fg)
        for _ in range(ri(rng, 3, 10)):
            y += small.line_height + 6
            cv.text(w - right + 8, y, corpus.title(rng, 1, 3), small, t.muted, max_x=w - 8)
    lh = body.line_height + ri(rng, 2, 9)
    y = nav_h + 16
    cv.text(cx0, y, f"Home » {corpus.title(rng, 1, 2)} » {corpus.title(rng, 1, 3)}", small, t.muted, max_x=cx1)
    y += small.line_height + 12
    cv.text(cx0, y, corpus.title(rng, 2, 5), st.face("ui_bold", min(40, body.size * 2)), t.fg, max_x=cx1)
    y += min(40, body.size * 2) * 3 // 2 + 10
    while y < h:
        k = rng.random()
        if k < 0.45:
            y = _rich_paragraph(cv, rng, st, cx0, y, cx1 - cx0, body, lh, h) + lh // 2
        elif k < 0.6:
            y += 8
            head = st.face("ui_bold", int(body.size * 1.4))
            cv.text(cx0, y, corpus.title(rng, 1, 4), head, t.fg, max_x=cx1)
            y += head.line_height + 10
        elif k < 0.78:  # code block
            code = st.face("mono", max(9, body.size - 2))
            lines = corpus.code_lines(rng, ri(rng, 2, 12))
            bh = len(lines) * (code.line_height + 2) + 20
            cv.draw.rectangle((cx0, y, cx1, min(h, y + bh)), fill=mix(t.bg, t.fg, 0.05), outline=t.border)
            yy = y + 10
            for line in lines:
                if yy + code.line_height > h:
                    break
                _code_line(cv, cx0 + 12, yy, line, code, _doc_syntax(st), cx1 - 10)
                yy += code.line_height + 2
            y += bh + lh // 2
        elif k < 0.88:  # admonition
            color = ((38, 132, 255), (255, 166, 0), (220, 53, 69), (40, 167, 69))[rng.integers(4)]
            top = y
            cv.draw.rectangle((cx0, top, cx1, min(h, top + 4 * lh + 20)), fill=mix(t.bg, color, 0.12))
            cv.draw.rectangle((cx0, top, cx0 + 4, min(h, top + 4 * lh + 20)), fill=color)
            cv.text(cx0 + 16, top + 8, ("Note", "Warning", "Danger", "Tip")[rng.integers(4)], st.face("ui_bold", body.size), color)
            cv.paragraph(cx0 + 16, top + 8 + lh, cx1 - cx0 - 32, corpus.words(rng, ri(rng, 8, 40)), body, t.fg, lh,
                         min(h, top + 4 * lh + 14))
            y = top + 4 * lh + 20 + lh // 2
        elif cx1 - cx0 > 300:  # photo figure with caption
            fw, fh = min(cx1 - cx0, ri(rng, 240, 640)), ri(rng, 120, 320)
            cv.paste(textures.photo(rng, fw, fh), (cx0, y))
            y += fh + 6
            cv.text(cx0, y, f"Figure {ri(rng, 1, 20)}: {corpus.sentence(rng, 3, 10)}", small, t.muted, max_x=cx1)
            y += small.line_height + lh // 2
        else:
            y += lh


def _doc_syntax(st: Style) -> Style:
    """Code blocks inside docs use a syntax palette matching the page (light page, light palette)."""
    return replace(st, syntax=replace(st.syntax, bg=st.theme.bg, fg=st.theme.fg))


# ---------------------------------------------------------------- desktop with windows
def _subtract(box: Box, cover: Box) -> list[Box]:
    """box minus cover as up to four disjoint rectangles."""
    x0, y0, x1, y1 = box
    cx0, cy0, cx1, cy1 = cover
    if cx0 >= x1 or cx1 <= x0 or cy0 >= y1 or cy1 <= y0:
        return [box]
    parts = [(x0, y0, x1, cy0), (x0, cy1, x1, y1), (x0, max(y0, cy0), cx0, min(y1, cy1)), (cx1, max(y0, cy0), x1, min(y1, cy1))]
    return [p for p in parts if p[0] < p[2] and p[1] < p[3]]


def _desktop(cv: Canvas, rng: np.random.Generator, st: Style) -> None:
    w, h = cv.size
    cv.paste(textures.photo(rng, w, h), (0, 0))
    ui = st.face("ui", max(10, st.base))
    bar_h = ui.line_height + 16
    for i in range(ri(rng, 0, 6)):  # desktop icons with labels
        y = 20 + i * 90
        if y + 80 > h - bar_h:
            break
        cv.draw.rounded_rectangle((30, y, 78, y + 48), radius=8, fill=tuple(int(v) for v in rng.integers(40, 230, 3)))
        centered_text(cv, 54, y + 60, corpus.filename(rng), st.face("ui", max(9, st.base - 2)), (255, 255, 255))
    inner = [k for k in KINDS if k != "desktop"]
    for _ in range(ri(rng, 1, 4)):
        ww, wh = ri(rng, min(w, 320), max(min(w, 320) + 1, w * 3 // 4)), ri(rng, min(h - bar_h, 220), max(min(h - bar_h, 220) + 1, (h - bar_h) * 3 // 4))
        wx, wy = ri(rng, 0, w - ww + 1), ri(rng, 0, h - bar_h - wh + 1)
        sub = Canvas(ww, wh, st.theme.bg)
        sub_style = random_style(rng)
        _RENDERERS[inner[rng.integers(len(inner))]](sub, rng, sub_style)
        cover = (wx, wy, wx + ww, wy + wh)
        cv.boxes = [p for b in cv.boxes for p in _subtract(b, cover)]
        cv.paste(sub.img, (wx, wy))
        cv.draw.rectangle((wx, wy, wx + ww - 1, wy + wh - 1), outline=(90, 90, 90))
        # the outline covers the window's outermost pixel ring; keep boxes strictly inside it
        ring = (wx + 1, wy + 1, wx + ww - 1, wy + wh - 1)
        cv.boxes += [b for b in ((max(x0 + wx, ring[0]), max(y0 + wy, ring[1]), min(x1 + wx, ring[2]), min(y1 + wy, ring[3]))
                                 for x0, y0, x1, y1 in sub.boxes) if b[0] < b[2] and b[1] < b[3]]
    t = st.theme
    cv.boxes = [p for b in cv.boxes for p in _subtract(b, (0, h - bar_h, w, h))]
    cv.draw.rectangle((0, h - bar_h, w, h), fill=mix(t.panel, (0, 0, 0), 0.2) if not t.dark else t.panel)
    for i in range(ri(rng, 3, 9)):
        icon(cv, rng, 12 + i * (bar_h + 6), h - bar_h + 6, bar_h - 12, t.fg)
    clock = f"{ri(rng, 0, 24):02d}:{ri(rng, 0, 60):02d}"
    cv.text(w - ui.advance(clock) - 14, h - bar_h + 8, clock, ui, t.fg)


# ---------------------------------------------------------------- API
_RENDERERS: dict[str, Callable[[Canvas, np.random.Generator, Style], None]] = {
    "terminal": _terminal,
    "ide": _ide,
    "spreadsheet": _spreadsheet,
    "slide": _slide,
    "dashboard": _dashboard,
    "chat": _chat,
    "video_call": _video_call,
    "settings": _settings,
    "docs": _docs,
    "desktop": _desktop,
}
KINDS: tuple[str, ...] = tuple(_RENDERERS)


# Seed space: on-the-fly training draws seeds below this; validation screens use seeds from it up.
SYNTHETIC_VAL_SEED0 = 1_000_000_000
# Layouts need a minimum area; smaller screens are rendered at this size and cropped (boxes clipped).
MIN_SIZE = (320, 240)


def render_screen(seed: int, width: int = 1280, height: int = 720, kind: str | None = None) -> Screen:
    """Render one synthetic screen; the same (seed, width, height, kind) always gives the same Screen."""
    if kind is not None and kind not in _RENDERERS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {KINDS}")
    rng = np.random.default_rng(seed)
    chosen = KINDS[rng.integers(len(KINDS))]
    kind = kind or chosen
    st = random_style(rng)
    cv = Canvas(max(width, MIN_SIZE[0]), max(height, MIN_SIZE[1]), st.theme.bg)
    _RENDERERS[kind](cv, rng, st)
    boxes = [(x0, y0, min(x1, width), min(y1, height)) for x0, y0, x1, y1 in cv.boxes if x0 < width and y0 < height]
    rgb = np.array(cv.img)[:height, :width]
    mask = rasterise_boxes(boxes, width, height)
    if st.fringes:
        rgb = color_fringes(rgb, mask)
    return Screen(np.ascontiguousarray(rgb), mask, boxes, kind)


def main() -> None:
    """Benchmark: per-kind render time over --seeds seeds (optionally saving PNGs to --save)."""
    ap = argparse.ArgumentParser(description="Time render_screen per kind.")
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--save", type=str, help="directory for <kind>_<seed>.png samples")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    for kind in KINDS:
        times = []
        for seed in range(args.seeds):
            t = time.perf_counter()
            screen = render_screen(seed, w, h, kind)
            times.append(time.perf_counter() - t)
            if args.save:
                Image.fromarray(screen.rgb).save(f"{args.save}/{kind}_{seed}.png")
        print(f"{kind:12s} median {1000 * np.median(times):5.0f} ms  p90 {1000 * np.percentile(times, 90):5.0f} ms")


if __name__ == "__main__":
    main()
