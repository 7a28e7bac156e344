"""Synthetic screenshot-like pages with known word boxes, for detector and codec tests.

`render_page` draws a docs/UI-like screen with PIL: a title bar, a sidebar of small UI labels,
headings, wrapped paragraphs in several DejaVu faces and sizes (11-28 px), a monospace code block on
a tinted background, buttons, a bordered table whose cell text sits a few pixels from the rules, and a
photo-like figure (smooth gradient + noise), sometimes with a white title drawn over it. It returns the image and the ink
boxes (PIL textbbox) of every fully visible word that has a letter or digit, so detectors can be
scored by word recall.
Everything is deterministic per (width, height, seed, theme).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive), image pixels

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")

_WORDS = (
    "the of and to in is for that with on as are this by be from or an it at not can which request "
    "image codec latent entropy model server client stream frame buffer config value returns error "
    "screen content text layout window button table column index default optional parameter "
    "function method class module package install version update release build deploy test "
    "quality bitrate pixel channel decoder encoder tensor shape batch training schedule learning "
    "rate checkpoint export runtime session provider thread memory cache limit timeout retry "
    "Python API HTTP JSON gRPC ONNX GPU CPU 1080p 720p 4096 0.25 v1.2.8 2026 #42 e.g. i.e."
).split()

_CODE_LINES = (
    "def compress(image, quality=3):",
    "    latent = encoder(image)",
    "    symbols = quantize(latent, step=0.5)",
    "    return rans_encode(symbols, table)",
    "for index, frame in enumerate(frames):",
    "    stream.write(header.pack())",
    "config = load_config(\"server.yaml\")",
    "session = InferenceSession(path, providers)",
    "result = client.Compress(request, timeout=30)",
    "assert decoded.shape == original.shape",
    "print(f\"bpp={bits / pixels:.3f} psnr={psnr:.2f}\")",
    "import numpy as np",
    "width, height = image.size",
    "if quality not in QUALITIES:",
    "    raise ValueError(\"unknown quality\")",
)

_THEMES = {
    "light": dict(
        bg=(255, 255, 255), fg=(33, 37, 41), muted=(100, 106, 115), titlebar=(222, 223, 227),
        sidebar=(246, 247, 249), code_bg=(246, 243, 236), code_fg=(56, 58, 66),
        keyword=(166, 38, 164), string=(80, 161, 79), rule=(190, 193, 198), strong_rule=(70, 74, 80), header_bg=(236, 238, 242),
        link=(26, 86, 219), primary=(37, 99, 235), on_primary=(255, 255, 255),
    ),
    "dark": dict(
        bg=(30, 30, 30), fg=(212, 212, 212), muted=(150, 150, 150), titlebar=(50, 50, 54),
        sidebar=(37, 37, 38), code_bg=(40, 44, 52), code_fg=(171, 178, 191),
        keyword=(198, 120, 221), string=(152, 195, 121), rule=(85, 85, 90), strong_rule=(170, 170, 175), header_bg=(45, 45, 50),
        link=(86, 156, 214), primary=(14, 99, 156), on_primary=(240, 240, 240),
    ),
}


@lru_cache(maxsize=None)
def _font(name: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_DIR / name), size)


@dataclass
class _Canvas:
    draw: ImageDraw.ImageDraw
    width: int
    height: int
    boxes: list[Box]

    def word(self, xy: tuple[int, int], text: str, font: ImageFont.FreeTypeFont, fill) -> int:
        """Draw one word; record its ink box when fully visible. Returns the advance width.

        Punctuation-only tokens (" - ", " / " in code) are drawn but not recorded: a lone 4x4 px dash is
        not a word any detector is asked to find.
        """
        self.draw.text(xy, text, font=font, fill=fill)
        x0, y0, x1, y1 = self.draw.textbbox(xy, text, font=font)
        visible = 0 <= x0 < x1 <= self.width and 0 <= y0 < y1 <= self.height
        if visible and any(c.isalnum() for c in text):
            self.boxes.append((x0, y0, x1, y1))
        return int(round(font.getlength(text)))

    def words(self, x: int, y: int, text: str, font: ImageFont.FreeTypeFont, fill) -> int:
        """Draw space-separated words on one line from (x, y). Returns the end x."""
        space = int(round(font.getlength(" ")))
        for w in text.split():
            x += self.word((x, y), w, font, fill) + space
        return x - space


def _photo(width: int, height: int, rng: np.random.Generator) -> Image.Image:
    """Photo-like texture with no text: a diagonal gradient, soft blobs and sensor-like noise."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    c0, c1 = rng.uniform(30, 225, 3), rng.uniform(30, 225, 3)
    t = (xx / max(width, 1) + yy / max(height, 1)) / 2
    img = c0 * (1 - t[..., None]) + c1 * t[..., None]
    coarse = rng.normal(0, 40, (max(height // 24, 2), max(width // 24, 2), 3)).astype(np.float32)
    blobs = np.stack(
        [np.asarray(Image.fromarray(coarse[..., c]).resize((width, height), Image.BICUBIC)) for c in range(3)],
        axis=-1,
    )
    img = img + blobs + rng.normal(0, 6, img.shape)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def render_non_text(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A page with no text at all: the photo-like texture over the whole frame (HxWx3 uint8)."""
    return np.asarray(_photo(width, height, np.random.default_rng(seed)))


def render_gradient(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A pure smooth two-colour gradient (HxWx3 uint8): the simplest non-text page."""
    rng = np.random.default_rng(seed)
    c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    t = np.linspace(0, 1, width, dtype=np.float32)[None, :, None] * 0.7
    t = t + np.linspace(0, 1, height, dtype=np.float32)[:, None, None] * 0.3
    return np.clip(c0 * (1 - t) + c1 * t, 0, 255).astype(np.uint8)


def render_page(width: int, height: int, seed: int = 0, theme: str = "light") -> tuple[np.ndarray, list[Box]]:
    """Render a screenshot-like page. Returns (HxWx3 uint8 RGB, ink boxes of fully visible words)."""
    if theme not in _THEMES:
        raise ValueError(f"theme must be one of {sorted(_THEMES)}, got {theme!r}")
    pal = _THEMES[theme]
    rnd = random.Random(seed)
    nrng = np.random.default_rng(seed)
    img = Image.new("RGB", (width, height), pal["bg"])
    cv = _Canvas(ImageDraw.Draw(img), width, height, [])
    d = cv.draw

    def phrase(n: int) -> str:
        return " ".join(rnd.choice(_WORDS) for _ in range(n))

    # Title bar: window controls and a small centred title.
    bar_h = 28
    d.rectangle((0, 0, width, bar_h - 1), fill=pal["titlebar"])
    for i, col in enumerate(((237, 106, 94), (245, 191, 79), (98, 197, 84))):
        d.ellipse((10 + 20 * i, 8, 22 + 20 * i, 20), fill=col)
    title_font = _font("DejaVuSans.ttf", 12)
    title = f"{phrase(3)} - {phrase(1)}"
    cv.words(max(80, (width - int(title_font.getlength(title))) // 2), 7, title, title_font, pal["fg"])

    # Sidebar of small UI labels on wide pages.
    side_w = min(210, width // 5) if width >= 600 else 0
    if side_w:
        d.rectangle((0, bar_h, side_w, height), fill=pal["sidebar"])
        y = bar_h + 14
        while y + 20 < height:
            font = _font(rnd.choice(("DejaVuSans.ttf", "DejaVuSansCondensed.ttf")), rnd.choice((11, 12, 13)))
            label = phrase(rnd.randint(1, 2))
            if 16 + font.getlength(label) < side_w - 8:
                cv.words(16, y, label, font, pal["muted"] if rnd.random() < 0.6 else pal["fg"])
            y += rnd.choice((20, 22, 24, 34))

    x0, x1 = side_w + 24, width - 24
    col_w = x1 - x0
    y = bar_h + 16
    bottom = height - 12

    def heading(y: int, size: int) -> int:
        font = _font(rnd.choice(("DejaVuSans-Bold.ttf", "DejaVuSerif-Bold.ttf")), size)
        cv.words(x0, y, phrase(rnd.randint(2, 5)), font, pal["fg"])
        return y + int(size * 1.6)

    def paragraph(y: int) -> int:
        face = rnd.choice(("DejaVuSans.ttf", "DejaVuSerif.ttf", "DejaVuSansCondensed.ttf"))
        size = rnd.choice((12, 13, 14, 15, 16))
        font, link_font = _font(face, size), _font(face, size)
        line_h, space = int(size * 1.5), int(round(font.getlength(" ")))
        for _ in range(rnd.randint(2, 5)):
            if y + line_h > bottom:
                break
            x = x0
            while True:
                w = rnd.choice(_WORDS)
                adv = int(round(font.getlength(w)))
                if x + adv > x1:
                    break
                is_link = rnd.random() < 0.08
                cv.word((x, y), w, link_font if is_link else font, pal["link"] if is_link else pal["fg"])
                if is_link:
                    d.line((x, y + size + 1, x + adv, y + size + 1), fill=pal["link"])
                x += adv + space
            y += line_h
        return y + size // 2

    def code_block(y: int) -> int:
        size = rnd.choice((12, 13, 14))
        font, line_h = _font("DejaVuSansMono.ttf", size), int(size * 1.45)
        n = rnd.randint(3, 7)
        h = n * line_h + 16
        if y + h > bottom:
            return y
        d.rounded_rectangle((x0, y, x1, y + h), radius=4, fill=pal["code_bg"])
        yy = y + 8
        for line in rnd.sample(_CODE_LINES, n):
            x = x0 + 12
            indent = len(line) - len(line.lstrip())
            x += int(round(font.getlength(" " * indent)))
            for tok in line.split():
                adv = int(round(font.getlength(tok)))
                if x + adv > x1 - 8:
                    break
                color = pal["keyword"] if tok in ("def", "for", "in", "return", "import", "if", "not", "raise",
                                                  "as", "assert") else pal["string"] if '"' in tok else pal["code_fg"]
                cv.word((x, yy), tok, font, color)
                x += adv + int(round(font.getlength(" ")))
            yy += line_h
        return y + h + 14

    def buttons(y: int) -> int:
        font = _font(rnd.choice(("DejaVuSans.ttf", "DejaVuSans-Bold.ttf")), rnd.choice((12, 13)))
        h = 28
        if y + h > bottom:
            return y
        x = x0
        for i in range(rnd.randint(2, 4)):
            label = phrase(rnd.randint(1, 2))
            w = int(font.getlength(label)) + 24
            if x + w > x1:
                break
            if i == 0:
                d.rounded_rectangle((x, y, x + w, y + h), radius=5, fill=pal["primary"])
                cv.words(x + 12, y + 7, label, font, pal["on_primary"])
            else:
                d.rounded_rectangle((x, y, x + w, y + h), radius=5, outline=pal["strong_rule"], width=1)
                cv.words(x + 12, y + 7, label, font, pal["fg"])
            x += w + 10
        return y + h + 16

    def table(y: int) -> int:
        size = rnd.choice((11, 12, 13))
        font, bold = _font("DejaVuSans.ttf", size), _font("DejaVuSans-Bold.ttf", size)
        ncol, nrow = rnd.randint(3, 4), rnd.randint(3, 6)
        # Tight cells with (often) strong rules: ink sits 2-4 px from the borders, as in dense docs tables;
        # this is where edge-based detectors merge text with the grid.
        row_h = size + rnd.choice((6, 8, 10))
        rule = pal["strong_rule"] if rnd.random() < 0.6 else pal["rule"]
        h = nrow * row_h
        if y + h + 1 > bottom:
            return y
        tw = min(col_w, 140 * ncol)
        xs = [x0 + tw * c // ncol for c in range(ncol + 1)]
        d.rectangle((x0, y, xs[-1], y + row_h), fill=pal["header_bg"])
        for r in range(nrow):
            for c in range(ncol):
                cell = phrase(1) if r == 0 else (f"{rnd.uniform(0, 999):.2f}" if c else phrase(rnd.randint(1, 2)))
                f = bold if r == 0 else font
                while f.getlength(cell) > xs[c + 1] - xs[c] - 6 and " " in cell:
                    cell = cell.rsplit(" ", 1)[0]
                if f.getlength(cell) <= xs[c + 1] - xs[c] - 6:
                    cv.words(xs[c] + 3, y + r * row_h + (row_h - size) // 2 - 2, cell, f, pal["fg"])
        for r in range(nrow + 1):
            d.line((x0, y + r * row_h, xs[-1], y + r * row_h), fill=rule)
        for x in xs:
            d.line((x, y, x, y + h), fill=rule)
        return y + h + 18

    def figure(y: int) -> int:
        fw, fh = int(col_w * rnd.uniform(0.35, 0.6)), rnd.randint(90, 200)
        if y + fh + 24 > bottom or fw < 40:
            return y
        img.paste(_photo(fw, fh, nrng), (x0, y))
        if rnd.random() < 0.5:  # banner-style title drawn over the photo, as on slides and hero images
            font = _font("DejaVuSans-Bold.ttf", rnd.choice((16, 20, 24)))
            label = phrase(rnd.randint(1, 3))
            while font.getlength(label) > fw - 24 and " " in label:
                label = label.rsplit(" ", 1)[0]
            if font.getlength(label) <= fw - 24:
                cv.words(x0 + 12, y + 12, label, font, (255, 255, 255))
        cap = _font("DejaVuSans-Oblique.ttf", rnd.choice((11, 12)))
        cv.words(x0, y + fh + 6, f"Figure {rnd.randint(1, 9)}: {phrase(rnd.randint(3, 6))}", cap, pal["muted"])
        return y + fh + 30

    y = heading(y, rnd.choice((22, 26, 28)))
    blocks = [paragraph, code_block, table, buttons, figure, paragraph]
    rnd.shuffle(blocks)
    blocks += [rnd.choice((paragraph, paragraph, code_block, table, buttons, figure)) for _ in range(12)]
    for block in blocks:
        if y >= bottom - 14:
            break
        if rnd.random() < 0.3 and y + 40 < bottom:
            y = heading(y, rnd.choice((16, 18, 20)))
        y = block(y)
    return np.asarray(img), cv.boxes


def word_recall(mask: np.ndarray, boxes: list[Box], min_cover: float = 0.5) -> float:
    """Fraction of word boxes with at least `min_cover` of their area covered by mask == 1."""
    if not boxes:
        return 1.0
    found = sum(mask[y0:y1, x0:x1].mean() >= min_cover for x0, y0, x1, y1 in boxes)
    return found / len(boxes)
