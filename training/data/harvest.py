"""Real screenshots: Debian's Chromium (driven by Playwright) over offline HTML docs and composed pages.

Data flow: DOC_SOURCES (installed HTML) + compose.py pages -> plan_jobs (seeded page, window size,
device scale, light/dark, scroll) -> Chromium screenshot + DOM word boxes (Range.getClientRects over
visible text nodes, occlusion-checked) -> <out>/harvest/<source>/<n>.webp (lossless) + <n>.json.

Chromium is /usr/bin/chromium; Playwright never downloads a browser, and every non-file request is
aborted (the machine is offline and docs must not hang on CDNs).
"""
from __future__ import annotations

import argparse
import glob
import io
import json
import math
import os
import time
from dataclasses import asdict, dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
from PIL import Image

from . import compose
from .store import save_webp

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREEN_SIZES = ((1280, 720), (1366, 768), (1920, 1080))
DEVICE_SCALES = (1.0, 1.0, 1.0, 1.25, 1.5, 2.0)  # browser zoom as the OS would set it
DARK_PROBABILITY = 0.4


@dataclass(frozen=True)
class DocSource:
    name: str  # the Debian package
    root: str
    pattern: str


# Keep the package list in sync with training/setup_data.sh. ruby3.1-doc ships only ri files (no HTML).
DOC_SOURCES: tuple[DocSource, ...] = (
    DocSource("python3.11-doc", "/usr/share/doc/python3.11/html", "**/*.html"),
    DocSource("postgresql-doc-15", "/usr/share/doc/postgresql-doc-15/html", "*.html"),
    DocSource("python-django-doc", "/usr/share/doc/python-django-doc/html", "**/*.html"),
    DocSource("python-sympy-doc", "/usr/share/doc/python-sympy-doc/html", "**/*.html"),
    DocSource("sphinx-doc", "/usr/share/doc/sphinx-doc/html", "**/*.html"),
    DocSource("octave-doc", "/usr/share/doc/octave/octave.html", "*.html"),
    DocSource("gimp-help-en", "/usr/share/gimp/2.0/help/en", "*.html"),
    DocSource("libreoffice-help-en-us", "/usr/share/libreoffice/help/en-US/text", "**/*.html"),
    DocSource("nodejs-doc", "/usr/share/doc/nodejs/api", "*.html"),
)
COMPOSED = tuple(f"composed-{k}" for k in compose.KINDS)

# Pages that ignore prefers-color-scheme get a classic forced-dark filter; pictures are inverted back.
FORCE_DARK_CSS = """html { filter: invert(1) hue-rotate(180deg) !important; background: #fff !important; }
img, video, picture, canvas, svg image, iframe { filter: invert(1) hue-rotate(180deg) !important; }"""

# Returns [[x0, y0, x1, y1], ...] in CSS pixels for each visible word fragment in the viewport.
WORD_BOXES_JS = """() => {
  const W = window.innerWidth, H = window.innerHeight, out = [], cache = new Map();
  const skip = new Set(['SCRIPT', 'STYLE', 'NOSCRIPT', 'TEMPLATE', 'TITLE', 'OPTION']);
  const visible = (el) => {
    if (!cache.has(el)) {
      const cs = getComputedStyle(el);
      cache.set(el, !skip.has(el.tagName) && el.checkVisibility({opacityProperty: true, visibilityProperty: true})
                    && !/rgba\\(.*,\\s*0\\)$/.test(cs.color));
    }
    return cache.get(el);
  };
  const push = (r, el) => {
    const x0 = Math.max(0, r.left), y0 = Math.max(0, r.top), x1 = Math.min(W, r.right), y1 = Math.min(H, r.bottom);
    if (x1 - x0 < 1 || y1 - y0 < 1) return;
    const hit = document.elementFromPoint((x0 + x1) / 2, (y0 + y1) / 2);  // covered or clipped away?
    if (hit && (hit === el || el.contains(hit) || hit.contains(el))) out.push([x0, y0, x1, y1]);
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.nodeValue, el = node.parentElement;
    if (!el || !/\\S/.test(text)) continue;
    range.selectNodeContents(node);
    const b = range.getBoundingClientRect();
    if (b.bottom <= 0 || b.top >= H || b.right <= 0 || b.left >= W || !visible(el)) continue;
    if (el instanceof SVGElement) { push(el.getBoundingClientRect(), el); continue; }
    const words = /\\S+/g;
    for (let m = words.exec(text); m; m = words.exec(text)) {
      range.setStart(node, m.index); range.setEnd(node, m.index + m[0].length);
      for (const r of range.getClientRects()) push(r, el);
    }
  }
  return out;
}"""

_SCROLL_JS = """(f) => document.fonts.ready.then(() => {
  window.scrollTo(0, Math.max(0, document.documentElement.scrollHeight - innerHeight) * f);
  return new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(window.scrollY))));
})"""
_FRAME_JS = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
# Mean luminance above which a page rendered with color_scheme='dark' is taken as ignoring it.
LIGHT_PAGE_LUMA = 0.5


@dataclass(frozen=True)
class Job:
    source: str  # DocSource.name or composed-<kind>
    page: str  # file path of the HTML page
    index: int  # n in <out>/harvest/<source>/<n>.webp
    width: int  # screenshot size in device pixels
    height: int
    scale: float  # device_scale_factor
    dark: bool
    scroll: float  # fraction of the scrollable height


def list_pages(source: DocSource) -> list[str]:
    """All HTML pages of a doc source, sorted (search/index pages are mostly empty chrome: skipped)."""
    files = glob.glob(os.path.join(source.root, source.pattern), recursive=True)
    return sorted(f for f in files if os.path.basename(f) not in ("search.html", "genindex.html", "py-modindex.html"))


def _settings(rng: np.random.Generator) -> tuple[int, int, float, bool, float]:
    w, h = SCREEN_SIZES[rng.integers(len(SCREEN_SIZES))]
    scale = DEVICE_SCALES[rng.integers(len(DEVICE_SCALES))]
    scroll = 0.0 if rng.random() < 0.3 else float(rng.uniform(0, 1))
    return w, h, scale, bool(rng.random() < DARK_PROBABILITY), round(scroll, 3)


# Pages per doc source in the first draw. A build asking for more appends pages drawn from the rest
# with a second stream, so growing a data dir never changes an image already on disk (held-out
# results name images by pixel hash) and a fresh build of any size reproduces the same prefix.
FIRST_DRAW = 40


def _doc_jobs(source: DocSource, k: int, per_source: int, seed: int) -> list[Job]:
    """per_source seeded (page, settings) jobs of one doc source: FIRST_DRAW pages, then the extension."""
    pages = list_pages(source)
    if not pages:
        return []
    rng = np.random.default_rng([seed, k])
    first = rng.choice(len(pages), size=min(per_source, FIRST_DRAW, len(pages)), replace=False)
    jobs = [Job(source.name, pages[p], i, *_settings(rng)) for i, p in enumerate(first)]
    rest = np.setdiff1d(np.arange(len(pages)), first)
    extra = min(per_source - len(first), len(rest))
    if extra > 0:
        rng = np.random.default_rng([seed, k, 1])
        more = rng.choice(rest, size=extra, replace=False)
        jobs += [Job(source.name, pages[p], len(first) + i, *_settings(rng)) for i, p in enumerate(more)]
    return jobs


def plan_jobs(per_source: int, seed: int, composed_dir: Path, sources: tuple[str, ...] | None = None) -> list[Job]:
    """Seeded job list: per_source pages of each doc source and per_source composed pages of each kind.

    Growing per_source past FIRST_DRAW only appends jobs (composed pages are prefix-stable at any size).
    """
    wanted = sources or tuple(s.name for s in DOC_SOURCES) + COMPOSED
    jobs: list[Job] = []
    for k, src in enumerate(DOC_SOURCES):
        if src.name in wanted:
            jobs += _doc_jobs(src, k, per_source, seed)
    for k, kind in enumerate(compose.KINDS):
        if f"composed-{kind}" not in wanted:
            continue
        rng = np.random.default_rng([seed, 1000 + k])
        for i in range(per_source):
            page = compose.compose_page(seed * 100000 + i, kind, composed_dir)
            jobs.append(Job(f"composed-{kind}", str(page), i, *_settings(rng)))
    return jobs


def _mean_luma(png: bytes) -> float:
    with Image.open(io.BytesIO(png)) as im:
        return float(np.asarray(im.convert("L").reduce(4), np.float32).mean() / 255)


def _block_network(route) -> None:  # type: ignore[no-untyped-def]
    if route.request.url.startswith(("file:", "data:", "blob:")):
        route.continue_()
    else:
        route.abort()


class Browser:
    """One headless Debian Chromium for many shots (context manager)."""

    def __enter__(self) -> "Browser":
        os.environ["PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD"] = "1"
        from playwright.sync_api import sync_playwright  # lazy: only the harvester needs playwright

        self._pw = sync_playwright().start()
        self._browser = self._pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        self.version = self._browser.version
        return self

    def __exit__(self, *exc: object) -> None:
        self._browser.close()
        self._pw.stop()

    def shoot(self, job: Job, timeout_ms: int = 20000) -> tuple[Image.Image, dict]:
        """Screenshot one job; returns the RGB image and its metadata (word boxes in device pixels)."""
        view = {"width": round(job.width / job.scale), "height": round(job.height / job.scale)}
        ctx = self._browser.new_context(viewport=view, device_scale_factor=job.scale,
                                        color_scheme="dark" if job.dark else "light")
        try:
            page = ctx.new_page()
            page.route("**/*", _block_network)
            page.goto(page_uri(Path(job.page)), wait_until="load", timeout=timeout_ms)
            scroll_y = page.evaluate(_SCROLL_JS, job.scroll)
            png = page.screenshot(type="png", animations="disabled", caret="hide")
            forced = job.dark and _mean_luma(png) > LIGHT_PAGE_LUMA
            if forced:
                page.add_style_tag(content=FORCE_DARK_CSS)
                page.evaluate(_FRAME_JS)
                png = page.screenshot(type="png", animations="disabled", caret="hide")
            css_boxes = page.evaluate(WORD_BOXES_JS)
        finally:
            ctx.close()
        img = Image.open(io.BytesIO(png)).convert("RGB")
        img = img.crop((0, 0, min(img.width, job.width), min(img.height, job.height)))  # viewport rounding: +1 px
        s, (w, h) = job.scale, img.size
        boxes = sorted({(max(0, math.floor(x0 * s)), max(0, math.floor(y0 * s)), min(w, math.ceil(x1 * s)), min(h, math.ceil(y1 * s)))
                        for x0, y0, x1, y1 in css_boxes})
        meta = {**asdict(job), "size": [w, h], "forced_dark": forced, "scroll_y": scroll_y, "browser": self.version,
                "word_boxes": [list(b) for b in boxes if b[0] < b[2] and b[1] < b[3]]}
        return img, meta


class _MetaRefreshTarget(HTMLParser):
    """The relative url of a page's first active <meta http-equiv="refresh" content="N; url=...">: one
    inside <noscript> (every LibreOffice help page has one) is inert, as Chromium runs scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.target: str | None = None
        self._noscript_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._noscript_depth += tag == "noscript"
        attr = {name: value or "" for name, value in attrs}
        if (tag != "meta" or self.target is not None or self._noscript_depth
                or attr.get("http-equiv", "").lower() != "refresh"):
            return
        _, _, url = attr.get("content", "").partition(";")
        name, _, value = url.partition("=")
        value = value.strip().strip("'\"")
        if name.strip().lower() == "url" and value and not urlsplit(value).scheme:
            self.target = value

    def handle_endtag(self, tag: str) -> None:
        self._noscript_depth -= tag == "noscript" and self._noscript_depth > 0


def page_uri(page: Path) -> str:
    """The file URI Chromium opens for ``page``: a meta-refresh redirect's target where the page has one
    (octave-doc's XREF pages), so that no navigation replaces the document between "load" and the
    screenshot (it did on some tries, timing-dependent, and lost pages from fresh builds)."""
    path = page.resolve()
    parser = _MetaRefreshTarget()
    parser.feed(path.read_text(errors="replace"))
    if parser.target is None:
        return path.as_uri()
    file, hash_mark, fragment = parser.target.partition("#")
    return (path.parent / file).resolve().as_uri() + hash_mark + fragment


def save_shot(img: Image.Image, meta: dict, stem: Path) -> None:
    """<stem>.webp (lossless) + <stem>.json."""
    save_webp(img, stem.with_suffix(".webp"))
    stem.with_suffix(".json").write_text(json.dumps(meta, separators=(",", ":")))


SHOT_ATTEMPTS = 3  # a page whose scripts navigate after "load" fails some tries, not all (timing)


def _shoot_with_retries(browser: Browser, job: Job) -> tuple[Image.Image, dict] | None:
    """``browser.shoot`` in a fresh context up to SHOT_ATTEMPTS times; None (logged) if all fail."""
    for attempt in range(1, SHOT_ATTEMPTS + 1):
        try:
            return browser.shoot(job)
        except Exception as exc:  # a broken page must not stop a long harvest
            print(f"harvest: try {attempt}/{SHOT_ATTEMPTS} failed, {job.source} {job.page}: "
                  f"{type(exc).__name__}: {str(exc)[:120]}", flush=True)
    return None


def harvest(jobs: list[Job], out_dir: Path, log_every: int = 20) -> dict:
    """Run jobs (skipping ones already on disk); returns counts and throughput."""
    done = failed = 0
    t0 = time.perf_counter()
    todo = [j for j in jobs if not (out_dir / "harvest" / j.source / f"{j.index:05d}.json").exists()]
    if todo:
        with Browser() as browser:
            for job in todo:
                shot = _shoot_with_retries(browser, job)
                if shot is None:
                    failed += 1
                    continue
                img, meta = shot
                save_shot(img, meta, out_dir / "harvest" / job.source / f"{job.index:05d}")
                done += 1
                if done % log_every == 0:
                    print(f"harvest: {done}/{len(todo)} in {time.perf_counter() - t0:.0f} s", flush=True)
    seconds = time.perf_counter() - t0
    return {"planned": len(jobs), "shot": done, "failed": failed, "skipped_existing": len(jobs) - len(todo),
            "seconds": round(seconds, 1), "shots_per_minute": round(60 * done / seconds, 1) if done else 0.0}


# The committed test fixtures (tests/fixtures/screenshots): mixed sources, sizes, scales, light and dark.
FIXTURE_JOBS: tuple[tuple[str, str, str, int, int, float, bool, float], ...] = (
    ("python_os_light", "python3.11-doc", "/usr/share/doc/python3.11/html/library/os.html", 1280, 720, 1.0, False, 0.3),
    ("postgres_select_dark", "postgresql-doc-15", "/usr/share/doc/postgresql-doc-15/html/sql-select.html", 1366, 768, 1.0, True, 0.2),
    ("django_querysets_zoom", "python-django-doc", "/usr/share/doc/python-django-doc/html/ref/models/querysets.html",
     1366, 768, 1.25, False, 0.15),
    ("gimp_crop_light", "gimp-help-en", "/usr/share/gimp/2.0/help/en/gimp-tool-crop.html", 1280, 720, 1.0, False, 0.0),
    ("nodejs_fs_dark", "nodejs-doc", "/usr/share/doc/nodejs/api/fs.html", 1280, 720, 1.0, True, 0.4),
    ("composed_slide", "composed-slide", "slide", 1280, 720, 1.0, False, 0.0),
    ("composed_dashboard_dark", "composed-dashboard", "dashboard", 1366, 768, 1.0, True, 0.0),
    ("composed_chat_dark", "composed-chat", "chat", 1280, 720, 1.0, True, 0.0),
    ("composed_code", "composed-code", "code", 1280, 720, 1.5, False, 0.0),
)


def make_fixtures(out: Path, composed_dir: Path) -> None:
    """Shoot FIXTURE_JOBS into out/<name>.webp + .json (composed pages use seed 0: slide and chat show photos)."""
    with Browser() as browser:
        for name, source, page, w, h, scale, dark, scroll in FIXTURE_JOBS:
            if source.startswith("composed-"):
                page = str(compose.compose_page(0, page, composed_dir))
            img, meta = browser.shoot(Job(source, page, 0, w, h, scale, dark, scroll))
            save_shot(img, meta, out / name)
            print(f"{name}: {img.size} {len(meta['word_boxes'])} words, forced_dark={meta['forced_dark']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path("data"))
    ap.add_argument("--per-source", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sources", nargs="*", help="subset of sources (package names or composed-<kind>)")
    ap.add_argument("--fixtures", type=Path, help="write the committed test fixtures here instead")
    args = ap.parse_args()
    composed_dir = args.out / "harvest" / "composed_pages"
    if args.fixtures:
        make_fixtures(args.fixtures, composed_dir)
        return
    jobs = plan_jobs(args.per_source, args.seed, composed_dir, tuple(args.sources) if args.sources else None)
    print(json.dumps(harvest(jobs, args.out)))


if __name__ == "__main__":
    main()
