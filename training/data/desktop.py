"""Held-out real application screenshots: Debian's X11 programs on a virtual screen.

Data flow: SCENES (programs, fixed input files, window placement; one theme each shot)
    -> Xvfb + openbox (window decorations) -> programs started with a scratch $HOME and fixed inputs
    -> xdotool places each window -> screen grabbed until two grabs agree (rendering settled)
    -> <out>/desktop/<scene>-<theme>-<W>x<H>.webp (lossless) + <name>.json (scene, programs, versions).

Why: the other held-out sets are documentation pages in Chromium, where classical codecs are near
lossless; users share terminals, editors, spreadsheets, plots, photo viewers and PDFs drawn by real
toolkits (xterm's Xft text, Tk, GTK, gnuplot's X11 lines, MuPDF). None of these programs, nor their
inputs, feed training: inputs are the Python 3.11 stdlib sources of Debian's python3.11 (the training
IDE screens draw the .venv's stdlib through our own renderer), photos from gimp-help-en (a test-only
doc source) and PDFs from packages no other source reads. Test-only: never listed in a training manifest.

Content is fixed (no clocks, fixed git dates, fixed mtimes), so a rebuild with the same Debian
package versions gives the same pixels; the .json records those versions.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import ImageGrab

from .store import save_webp

DISPLAY = ":87"
HOME = Path("/tmp/screenbox/dev")
PACKAGES = ("xvfb", "openbox", "x11-xserver-utils", "xdotool", "xterm", "vim", "idle-python3.11", "gitk",
            "gnumeric", "gnuplot-x11", "mupdf", "feh", "git", "fontconfig", "nettle-dev")  # the last two: the PDFs
STDLIB = Path("/usr/lib/python3.11")
PHOTOS = Path("/usr/share/gimp/2.0/help/en/images/tutorials/tone-mapping")
PDFS = (Path("/usr/share/doc/fontconfig/fontconfig-user.pdf.gz"),
        Path("/usr/share/doc/nettle-dev/nettle.pdf.gz"))
FIXED_DATE = "2024-03-14T09:26:53+00:00"
SETTLE_TRIES = 20


@dataclass(frozen=True)
class Window:
    """A window: the program that opens it (empty: opened by the previous program), a title regex
    xdotool waits for, and its frame in screen pixels."""
    argv: tuple[str, ...]
    title: str
    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True)
class Palette:
    background: str
    foreground: str
    desktop: str
    vim_scheme: str
    prompt: str  # ANSI SGR of the prompt


PALETTES = {
    "dark": Palette("#1e1f22", "#d0d0d0", "#30343c", "desert", "1;32"),
    "light": Palette("#fbfbf8", "#202020", "#7f8c99", "morning", "0;34"),
}


def xterm(palette: Palette, title: str, command: str, font_size: int) -> tuple[str, ...]:
    return ("xterm", "-T", title, "-fa", "DejaVu Sans Mono", "-fs", str(font_size), "-bg", palette.background,
            "-fg", palette.foreground, "-xrm", "XTerm*cursorBlink: false", "+sb", "-e", "bash", "-c", command)


def shell_session(commands: list[str], palette: Palette) -> str:
    """A bash line that shows each command after a prompt, runs it, then holds the window open."""
    prompt = f"printf '\\e[{palette.prompt}mdev@screenbox\\e[0m:\\e[1;34m~/tinyjson\\e[0m$ %s\\n'"
    steps = "; ".join(f"{prompt} {json.dumps(c)}; {c}" for c in commands)
    return f"cd ~/tinyjson; {steps}; printf '\\e[?25l'; sleep infinity"


def make_inputs(home: Path) -> None:
    """Fixed inputs: a small git history of stdlib json, a CSV table, a gnuplot script, PDFs."""
    repo = home / "tinyjson"
    repo.mkdir()
    env = {**os.environ, "HOME": str(home), "GIT_AUTHOR_DATE": FIXED_DATE, "GIT_COMMITTER_DATE": FIXED_DATE,
           "GIT_AUTHOR_NAME": "Ada Dev", "GIT_AUTHOR_EMAIL": "ada@example.org",
           "GIT_COMMITTER_NAME": "Ada Dev", "GIT_COMMITTER_EMAIL": "ada@example.org"}
    git = lambda *a: subprocess.run(("git", "-C", str(repo), *a), env=env, check=True, capture_output=True)
    git("init", "-q", "-b", "main")
    for name, message in (("__init__.py", "Add package entry points"), ("scanner.py", "Add the scanner"),
                          ("decoder.py", "Decoder with error positions"),
                          ("encoder.py", "Encoder, c speedups optional"), ("tool.py", "Command-line pretty printer")):
        shutil.copy(STDLIB / "json" / name, repo / name)
        git("add", name)
        git("commit", "-q", "-m", message)
    text = (repo / "decoder.py").read_text().replace("Expecting value", "Expected a value")
    (repo / "decoder.py").write_text(text)
    git("commit", "-q", "-am", "Clearer message when a value is missing")
    rng = np.random.default_rng(2024)
    regions = ("North", "South", "East", "West", "Central")
    rows = ["Order,Region,Rep,Units,Unit price,Total,Shipped"]
    for i in range(120):
        units, price = int(rng.integers(1, 400)), float(rng.choice([4.99, 12.5, 19.99, 149.0, 1.25]))
        rows.append(f"{10400 + i},{regions[i % 5]},R{int(rng.integers(10, 60))},{units},{price},"
                    f"{units * price:.2f},{'yes' if rng.random() < 0.8 else 'no'}")
    (home / "orders.csv").write_text("\n".join(rows) + "\n")
    (home / "plot.gp").write_text(
        "set terminal x11 size 860,620 font 'DejaVu Sans,10'\nset grid\nset key top left\n"
        "set title 'Damped oscillators'\nset xlabel 't [s]'\nset ylabel 'x(t)'\n"
        "plot [0:12] exp(-x/4)*cos(3*x) lw 2 t 'zeta=0.08', exp(-x/2)*cos(2*x) lw 2 t 'zeta=0.25', "
        "exp(-x)*sin(x) lw 2 t 'zeta=0.7'\n")
    for pdf in PDFS:
        (home / pdf.name.removesuffix(".gz")).write_bytes(gzip.decompress(pdf.read_bytes()))
    (home / ".idlerc").mkdir()
    for path in [*repo.iterdir(), *home.iterdir()]:
        if path.name != ".git":
            os.utime(path, (1710408413, 1710408413))  # FIXED_DATE, so `ls -l` shows the same times


def scene_windows(scene: str, theme: str, width: int, height: int, home: Path) -> list[Window]:
    p = PALETTES[theme]
    half, top = width // 2, 0
    if scene == "terminal":
        left = shell_session(["git log --oneline --graph --decorate --color=always",
                              "ls -l --color=always --time-style=long-iso", "git diff --stat --color=always HEAD~3",
                              "python3 -c 'import json; json.loads(\"{bad\")'", "wc -l *.py"], p)
        right = shell_session(["git show --color=always HEAD | head -n 40",
                               "python3 tool.py --indent 2 <<< '{\"ok\": [1, 2.5, null], \"name\": \"x\"}'"], p)
        return [Window(xterm(p, "shell", left, 11), "^shell$", 0, top, half, height),
                Window(xterm(p, "review", right, 11), "^review$", half, top, width - half, height)]
    if scene == "vim":
        vimrc = home / ".vimrc"
        vimrc.write_text(f"set nocompatible number ruler laststatus=2 cursorline\nsyntax on\n"
                         f"set background={theme}\ncolorscheme {p.vim_scheme}\n")
        command = "cd ~/tinyjson; vim -n -R -O decoder.py encoder.py -c 'normal 120G' -c 'wincmd l' -c 'normal 60Gzz'"
        return [Window(xterm(p, "vim", command, 11), "^vim$", 0, 0, width, height)]
    if scene == "idle":
        theme_name = "IDLE Dark" if theme == "dark" else "IDLE Classic"
        (home / ".idlerc" / "config-main.cfg").write_text(
            f"[EditorWindow]\ncursor-blink = False\n[Theme]\ndefault = True\nname = {theme_name}\n")
        argv = ("idle-python3.11", "-i", str(home / "tinyjson" / "scanner.py"))
        return [Window(argv, "IDLE Shell", int(width * 0.55), height // 3, int(width * 0.45), 2 * height // 3),
                Window((), "scanner.py", 0, 0, int(width * 0.62), height)]
    if scene == "gitk":
        return [Window(("bash", "-c", "cd ~/tinyjson && exec gitk --all"), "gitk", 0, 0, width, height)]
    if scene == "spreadsheet":
        return [Window(("gnumeric", "--no-splash", str(home / "orders.csv")), "orders", 0, 0, width, height)]
    if scene == "plot":
        vim = (f"cd ~; vim -n -R plot.gp -c 'syntax on' -c 'set number background={theme}'"
               f" -c 'colorscheme {p.vim_scheme}'")
        return [Window(xterm(p, "plot.gp", vim, 12), "^plot.gp$", 0, 0, width - 880, height),
                Window(("gnuplot", "-persist", str(home / "plot.gp")), "Gnuplot", width - 880, 40, 870, 640)]
    if scene == "photo":
        photo = "apple-orchard-truck-from-camera.jpg" if theme == "dark" else "power-lines.jpg"
        listing = shell_session([f"ls -l --time-style=long-iso {PHOTOS} | head -n 14"], p)
        return [Window(xterm(p, "shell", listing, 10), "^shell$", 30, 60, width // 2, height // 2),
                Window(("feh", "--title", "photo %f", str(PHOTOS / photo)), "^photo", width // 3, height // 5,
                       790, 640)]
    if scene == "pdf":
        pdf = PDFS[0 if theme == "light" else 1].name.removesuffix(".gz")
        invert = ("-I",) if theme == "dark" else ()  # MuPDF's dark reading mode
        return [Window(("mupdf", *invert, "-r", "110", str(home / pdf), "3"), pdf, width // 8, 0, 3 * width // 4,
                       height)]
    raise ValueError(f"unknown scene {scene}")


SHOTS = (  # (scene, theme, width, height): 16 shots, the size of the documentation held-out set
    ("terminal", "dark", 1920, 1080), ("terminal", "light", 1366, 768),
    ("vim", "dark", 1366, 768), ("vim", "light", 1920, 1080),
    ("idle", "light", 1920, 1080), ("idle", "dark", 1280, 720),
    ("gitk", "light", 1920, 1080), ("gitk", "light", 1280, 720),
    ("spreadsheet", "light", 1920, 1080), ("spreadsheet", "light", 1366, 768),
    ("plot", "dark", 1920, 1080), ("plot", "light", 1920, 1080),
    ("photo", "dark", 1920, 1080), ("photo", "light", 1366, 768),
    ("pdf", "light", 1920, 1080), ("pdf", "dark", 1366, 768),
)


def settled_grab() -> np.ndarray:
    """Grab the screen until two grabs half a second apart agree (programs have finished drawing)."""
    last = None
    for _ in range(SETTLE_TRIES):
        now = np.asarray(ImageGrab.grab(xdisplay=DISPLAY).convert("RGB"))
        if last is not None and np.array_equal(now, last):
            return now
        last = now
        time.sleep(0.5)
    raise RuntimeError("screen never settled")


def wait_window(title: str, timeout_s: float = 30.0) -> str:
    """The id of the first visible window whose title matches, waiting for it to map."""
    out = subprocess.run(("xdotool", "search", "--sync", "--onlyvisible", "--name", title),
                         capture_output=True, text=True, timeout=timeout_s, env={**os.environ, "DISPLAY": DISPLAY})
    return out.stdout.split()[0]


def shoot(scene: str, theme: str, width: int, height: int) -> np.ndarray:
    """One screenshot: a fresh X server and $HOME, the scene's programs placed, the settled screen."""
    home = HOME  # a fixed path: titles and tracebacks show it
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    make_inputs(home)
    env = {"PATH": "/usr/bin:/bin", "DISPLAY": DISPLAY, "HOME": str(home), "LANG": "C.UTF-8",
           "TZ": "UTC", "PAGER": "cat", "GIT_PAGER": "cat", "TERM": "xterm-256color"}
    procs = [subprocess.Popen(("Xvfb", DISPLAY, "-screen", "0", f"{width}x{height}x24", "-nolisten", "tcp"),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        time.sleep(1.0)
        procs.append(subprocess.Popen(("openbox",), env=env, stderr=subprocess.DEVNULL))
        time.sleep(0.5)
        subprocess.run(("xsetroot", "-solid", PALETTES[theme].desktop), env=env, check=True)
        for window in scene_windows(scene, theme, width, height, home):
            if window.argv:
                procs.append(subprocess.Popen(window.argv, env=env, cwd=home, stdout=subprocess.DEVNULL,
                                              stderr=subprocess.DEVNULL))
            wid = wait_window(window.title)
            subprocess.run(("xdotool", "windowsize", wid, str(window.width), str(window.height),
                            "windowmove", wid, str(window.x), str(window.y)), env=env, check=True)
        time.sleep(2.0)
        return settled_grab()
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=10)


def package_versions() -> dict[str, str]:
    out = subprocess.run(("dpkg-query", "-W", "-f", "${Package} ${Version}\\n", *PACKAGES),
                         capture_output=True, text=True)
    return dict(line.split(" ", 1) for line in out.stdout.splitlines())


def build(out: Path) -> list[Path]:
    """Shoot every SHOTS entry not already on disk; returns the image paths in SHOTS order."""
    folder = out / "desktop"
    folder.mkdir(parents=True, exist_ok=True)
    versions = package_versions()
    paths = []
    for scene, theme, width, height in SHOTS:
        path = folder / f"{scene}-{theme}-{width}x{height}.webp"
        if not path.exists():
            start = time.time()
            save_webp(shoot(scene, theme, width, height), path)
            path.with_suffix(".json").write_text(json.dumps(
                {"scene": scene, "theme": theme, "size": [width, height], "packages": versions}, indent=1))
            print(f"desktop: {path.name} in {time.time() - start:.1f} s", flush=True)
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("data_desktop"))
    build(parser.parse_args().out)


if __name__ == "__main__":
    main()
