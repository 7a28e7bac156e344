"""HTML pages composed for the harvester: slides, dashboards, chat, spreadsheets, code views.

Data flow: (seed, kind) -> rng -> HTML string (system fonts, inline SVG charts with <text> labels,
<img> of natural crops or a procedural PNG) -> <dir>/<kind>_<seed>.html -> harvest.py screenshots it.

Pages follow prefers-color-scheme (CSS variables), so the harvester's dark mode needs no forcing here.
"""
from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from . import corpus, textures

KINDS = ("slide", "dashboard", "chat", "spreadsheet", "code")
SANS = ("DejaVu Sans", "Liberation Sans", "Noto Sans", "Roboto", "Open Sans", "Lato", "Cantarell", "Carlito")
SERIF = ("DejaVu Serif", "Liberation Serif", "Noto Serif", "Caladea")
MONO = ("DejaVu Sans Mono", "Liberation Mono", "Fira Code", "JetBrains Mono", "Hack", "Inconsolata", "Noto Mono")
_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")
_SYNTAX = {"keyword": "var(--kw)", "string": "var(--str)", "comment": "var(--com)", "number": "var(--num)",
           "call": "var(--call)"}


def _pick(rng: np.random.Generator, items: tuple[str, ...]) -> str:
    return items[rng.integers(len(items))]


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _style(rng: np.random.Generator) -> str:
    accent = _pick(rng, ("#1a73e8", "#d93025", "#188038", "#a142f4", "#007acc", "#c2185b", "#00897b"))
    size = int(rng.choice([12, 13, 14, 15, 16, 18]))
    return f"""<style>
:root {{ --bg:#fff; --fg:#202124; --panel:#f1f3f4; --muted:#5f6368; --border:#dadce0; --accent:{accent};
  --kw:#d73a49; --str:#032f62; --com:#6a737d; --num:#005cc5; --call:#6f42c1; color-scheme: light dark; }}
@media (prefers-color-scheme: dark) {{ :root {{ --bg:#1e1f22; --fg:#e8eaed; --panel:#2b2d31; --muted:#9aa0a6;
  --border:#3c4043; --kw:#ff7b72; --str:#a5d6ff; --com:#8b949e; --num:#79c0ff; --call:#d2a8ff; }} }}
html, body {{ margin:0; background:var(--bg); color:var(--fg); font:{size}px '{_pick(rng, SANS)}', sans-serif; }}
.mono, pre, code {{ font-family:'{_pick(rng, MONO)}', monospace; }}
.muted {{ color:var(--muted); }} .card {{ background:var(--panel); border:1px solid var(--border); border-radius:8px; padding:12px; }}
h1, h2, h3 {{ margin:0 0 8px 0; }} img {{ display:block; object-fit:cover; }}
table {{ border-collapse:collapse; }} td, th {{ border:1px solid var(--border); padding:3px 8px; }}
</style>"""


def _image(rng: np.random.Generator, assets: Path, w: int, h: int) -> str:
    """<img> of a natural crop (file URL), else of a procedural texture written to assets/."""
    crops = textures.photo_files()
    if crops:
        src = Path(crops[rng.integers(len(crops))]).resolve().as_uri()
    else:
        assets.mkdir(parents=True, exist_ok=True)
        path = assets / f"texture_{rng.integers(1 << 30)}.png"
        textures.procedural(rng, w, h).save(path)
        src = path.resolve().as_uri()
    return f'<img src="{src}" style="width:{w}px;height:{h}px;border-radius:{rng.integers(0, 12)}px">'


def svg_chart(rng: np.random.Generator, w: int, h: int) -> str:
    """A bar or line chart with gridlines, tick labels and a title, all as SVG <text>."""
    n, pad_l, pad_b, pad_t = int(rng.integers(5, 13)), 44, 24, 28
    pw, ph = w - pad_l - 8, h - pad_b - pad_t
    vals = np.cumsum(rng.normal(0, 1, n)) + rng.uniform(4, 8)
    vals = (vals - vals.min() * 0.8) / (np.ptp(vals) + 1e-6 + vals.min() * 0.2)
    top = float(rng.choice([10, 50, 100, 500, 1000]))
    parts = [f'<svg width="{w}" height="{h}" style="font-size:11px">',
             f'<text x="4" y="16" fill="var(--fg)" font-weight="bold" font-size="13">{_e(corpus.title(rng))}</text>']
    for i in range(5):
        y = pad_t + ph * i / 4
        parts.append(f'<line x1="{pad_l}" x2="{w - 8}" y1="{y:.1f}" y2="{y:.1f}" stroke="var(--border)"/>')
        parts.append(f'<text x="{pad_l - 6}" y="{y + 4:.1f}" text-anchor="end" fill="var(--muted)">{top * (4 - i) / 4:g}</text>')
    color = _pick(rng, _PALETTE)
    xs = [pad_l + pw * (i + 0.5) / n for i in range(n)]
    if rng.random() < 0.5:
        bw = pw / n * 0.7
        parts += [f'<rect x="{x - bw / 2:.1f}" y="{pad_t + ph * (1 - v):.1f}" width="{bw:.1f}" height="{ph * v:.1f}" fill="{color}"/>'
                  for x, v in zip(xs, vals)]
    else:
        pts = " ".join(f"{x:.1f},{pad_t + ph * (1 - v):.1f}" for x, v in zip(xs, vals))
        parts.append(f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="2.5"/>')
    months = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
    parts += [f'<text x="{x:.1f}" y="{h - 6}" text-anchor="middle" fill="var(--muted)">{months[i % 12]}</text>'
              for i, x in enumerate(xs) if n <= 8 or i % 2 == 0]
    parts.append("</svg>")
    return "".join(parts)


def _slide(rng: np.random.Generator, assets: Path) -> str:
    bullets = "".join(f"<li>{_e(corpus.sentence(rng, 4, 14))}</li>" for _ in range(rng.integers(3, 7)))
    visual = _image(rng, assets, 520, 340) if rng.random() < 0.5 else svg_chart(rng, 520, 340)
    return f"""<div style="box-sizing:border-box;width:100vw;height:100vh;padding:5vh 6vw;border-top:10px solid var(--accent)">
<h1 style="font-size:{rng.integers(30, 52)}px">{_e(corpus.title(rng, 2, 6))}</h1>
<div style="display:flex;gap:4vw;align-items:flex-start"><ul style="flex:1;font-size:{rng.integers(18, 28)}px;line-height:1.5">{bullets}</ul>
<div>{visual}</div></div>
<div class="muted" style="position:fixed;bottom:3vh;left:6vw">{_e(corpus.title(rng, 1, 2))} | {_e(corpus.person(rng))}</div></div>"""


def _dashboard(rng: np.random.Generator, assets: Path) -> str:
    cards = []
    for _ in range(rng.integers(6, 13)):
        k = rng.random()
        if k < 0.35:
            cards.append(f'<div class="card"><div class="muted">{_e(corpus.title(rng, 1, 3))}</div>'
                         f'<div style="font-size:32px;font-weight:bold">{_e(corpus.number(rng))}</div>'
                         f'<div style="color:#188038">+{rng.uniform(0, 20):.1f}%</div></div>')
        elif k < 0.7:
            cards.append(f'<div class="card" style="grid-column:span 2">{svg_chart(rng, 440, 220)}</div>')
        elif k < 0.8:
            cards.append(f'<div class="card"><div class="muted">{_e(corpus.title(rng, 1, 3))}</div>{_image(rng, assets, 200, 150)}</div>')
        else:
            rows = "".join(f"<tr><td>{_e(corpus.title(rng, 1, 2))}</td><td>{_e(corpus.number(rng))}</td>"
                           f"<td>{_e(corpus.number(rng))}</td></tr>" for _ in range(rng.integers(3, 8)))
            cards.append(f'<div class="card" style="grid-column:span 2"><table>{rows}</table></div>')
    nav = " ".join(f'<span style="margin-right:18px">{_e(corpus.title(rng, 1, 1))}</span>' for _ in range(5))
    return f"""<div style="background:var(--accent);color:#fff;padding:12px 20px;font-weight:bold">{_e(corpus.title(rng, 1, 2))}
<span style="font-weight:normal;margin-left:40px">{nav}</span></div>
<div style="display:grid;grid-template-columns:repeat(auto-fill,minmax(220px,1fr));gap:14px;padding:14px">{''.join(cards)}</div>"""


def _chat(rng: np.random.Generator, assets: Path) -> str:
    contacts = "".join(f'<div style="padding:8px 12px;border-bottom:1px solid var(--border)"><b>{_e(corpus.person(rng))}</b>'
                       f'<div class="muted">{_e(corpus.sentence(rng, 2, 7))}</div></div>' for _ in range(14))
    msgs = []
    for _ in range(rng.integers(8, 20)):
        mine = rng.random() < 0.4
        body = _image(rng, assets, 280, 180) if rng.random() < 0.1 else _e(corpus.sentence(rng, 2, 30))
        style = ("margin-left:auto;background:var(--accent);color:#fff" if mine else "background:var(--panel)")
        msgs.append(f'<div style="max-width:60%;padding:8px 12px;border-radius:14px;margin:6px 0;{style}">'
                    f'<div style="font-size:11px;opacity:.8">{_e(corpus.person(rng))} {corpus.timestamp(rng)[11:16]}</div>{body}</div>')
    return f"""<div style="display:flex;height:100vh"><div style="width:280px;overflow:hidden;background:var(--panel)">{contacts}</div>
<div style="flex:1;display:flex;flex-direction:column"><div style="padding:12px 16px;border-bottom:1px solid var(--border)">
<b># {_e(corpus.title(rng, 1, 2).lower())}</b></div><div style="flex:1;overflow:hidden;padding:0 16px;display:flex;flex-direction:column;justify-content:flex-end">
{''.join(msgs)}</div><div style="margin:10px;padding:10px;border:1px solid var(--border);border-radius:8px" class="muted">Message</div></div></div>"""


def _spreadsheet(rng: np.random.Generator, assets: Path) -> str:
    cols = int(rng.integers(6, 14))
    head = "".join(f"<th>{chr(65 + c)}</th>" for c in range(cols))
    rows = []
    for r in range(60):
        cells = "".join(f"<td>{_e(corpus.title(rng, 1, 2) if r == 0 or c == 0 else corpus.number(rng))}</td>" for c in range(cols))
        rows.append(f'<tr><th class="muted">{r + 1}</th>{cells}</tr>')
    return f"""<div style="padding:6px 10px;background:var(--panel)">File Edit View Insert Format Data Tools Help</div>
<div class="mono" style="padding:4px 10px;border-bottom:1px solid var(--border)">fx =SUM(B2:B{rng.integers(3, 60)})</div>
<table style="font-variant-numeric:tabular-nums"><tr><th></th>{head}</tr>{''.join(rows)}</table>"""


def _code(rng: np.random.Generator, assets: Path) -> str:
    lines = []
    for i, line in enumerate(corpus.code_lines(rng, 80)):
        spans = "".join(f'<span style="color:{_SYNTAX[c]}">{_e(t)}</span>' if c in _SYNTAX else _e(t)
                        for t, c in corpus.code_tokens(line))
        lines.append(f'<span class="muted" style="display:inline-block;width:4em">{i + 1}</span>{spans}')
    files = "".join(f"<div>{_e(corpus.filename(rng))}</div>" for _ in range(40))
    return f"""<div style="display:flex;height:100vh"><div style="width:220px;padding:8px;background:var(--panel);line-height:1.7;overflow:hidden">{files}</div>
<pre style="margin:0;padding:8px;font-size:{rng.integers(12, 17)}px;line-height:1.45;overflow:hidden">{chr(10).join(lines)}</pre></div>"""


_BODIES = {"slide": _slide, "dashboard": _dashboard, "chat": _chat, "spreadsheet": _spreadsheet, "code": _code}


def compose_page(seed: int, kind: str, out_dir: Path) -> Path:
    """Write one composed page and return its path."""
    rng = np.random.default_rng([seed, KINDS.index(kind)])
    out_dir.mkdir(parents=True, exist_ok=True)
    body = _BODIES[kind](rng, out_dir / "assets")
    path = out_dir / f"{kind}_{seed:05d}.html"
    path.write_text(f"<!doctype html><html><head><meta charset='utf-8'>{_style(rng)}</head><body>{body}</body></html>",
                    encoding="utf-8")
    return path
