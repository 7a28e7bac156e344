"""Text content for synthetic screens: prose, names, numbers, shell output and real source code.

Data flow: built-in word lists + Python stdlib sources (sorted, read lazily) + rng -> strings.
Real code (the interpreter's own stdlib) gives realistic token statistics for IDE and terminal screens.
"""
from __future__ import annotations

import functools
import glob
import keyword
import os
import re
import sysconfig
from typing import Iterator

import numpy as np

_PROSE = """the of and to in is for that with as on this are be by from it an or can which you not
data file value function server request user model image screen text code table chart page option
returns list object string number default set example use used when if each new will all more one
other time first see also following only into may should must using method class module type name
version configuration system network memory process output input error warning message update
release support document section report result results total average query index database field
client session service window display color layout font size width height border margin style
contains provides allows creates defines describes specifies converts reads writes opens closes
quickly simply always never usually however therefore because between without within after before
project team meeting review design plan budget revenue growth quarter customer product market sales
performance latency throughput accuracy training validation test batch epoch loss rate learning
""".split()
_PUNCT_END = (".", ".", ".", ",", ":", ";", "?", "!")
_FIRST = "Alice Bob Carol David Emma Farid Grace Hiro Ines Jamal Kira Liam Maya Noah Olga Pavel Quinn Ravi Sofia Tom Uma Viktor Wen Xavier Yara Zoe".split()
_LAST = "Smith Garcia Müller Tanaka Rossi Novak Kim Silva Dubois Okafor Ivanova Nguyen Larsen Kowalski Chen Patel".split()
_EXTS = ("py", "rs", "ts", "md", "json", "yaml", "txt", "csv", "png", "log", "toml", "sh", "c", "h")
SHELL_COMMANDS = (
    "ls -la", "git status", "git log --oneline", "make -j8", "pytest -q", "docker ps", "cat config.yaml",
    "python train.py --epochs 40", "cargo build --release", "npm run build", "tail -f server.log",
    "ssh deploy@10.0.3.17", "grep -rn TODO src/", "kubectl get pods", "htop", "df -h", "pip install -e .",
)


def words(rng: np.random.Generator, n: int, capitalise: bool = True) -> list[str]:
    """n prose words with occasional punctuation, numbers and capitals, like running text."""
    out = []
    for i in range(n):
        w = _PROSE[rng.integers(len(_PROSE))]
        r = rng.random()
        if r < 0.04:
            w = str(rng.integers(0, 10000))
        elif r < 0.09:
            w = w.capitalize()
        if (capitalise and i == 0) or (out and out[-1][-1] in ".?!"):
            w = w.capitalize()
        if rng.random() < 0.1:
            w += _PUNCT_END[rng.integers(len(_PUNCT_END))]
        out.append(w)
    return out


def sentence(rng: np.random.Generator, lo: int = 3, hi: int = 12) -> str:
    return " ".join(words(rng, int(rng.integers(lo, hi + 1))))


def title(rng: np.random.Generator, lo: int = 1, hi: int = 5) -> str:
    return " ".join(w.capitalize() for w in words(rng, int(rng.integers(lo, hi + 1)), False)).rstrip(".,:;?!")


def person(rng: np.random.Generator) -> str:
    return f"{_FIRST[rng.integers(len(_FIRST))]} {_LAST[rng.integers(len(_LAST))]}"


def filename(rng: np.random.Generator) -> str:
    stem = "_".join(_PROSE[rng.integers(len(_PROSE))] for _ in range(rng.integers(1, 3)))
    return f"{stem}.{_EXTS[rng.integers(len(_EXTS))]}"


def number(rng: np.random.Generator) -> str:
    """A table/chart number in one of several common formats."""
    kind = rng.integers(5)
    v = float(rng.lognormal(4, 2))
    if kind == 0:
        return f"{int(v):,}"
    if kind == 1:
        return f"{v:.2f}"
    if kind == 2:
        return f"{rng.uniform(-40, 90):.1f}%"
    if kind == 3:
        return f"${v:,.2f}"
    return str(int(rng.integers(0, 1000)))


def timestamp(rng: np.random.Generator) -> str:
    return f"2026-{rng.integers(1, 13):02d}-{rng.integers(1, 29):02d} {rng.integers(24):02d}:{rng.integers(60):02d}:{rng.integers(60):02d}"


@functools.lru_cache(maxsize=1)
def _source_files() -> tuple[str, ...]:
    root = sysconfig.get_paths()["stdlib"]
    files = sorted(glob.glob(os.path.join(root, "*.py")))
    return tuple(f for f in files if os.path.getsize(f) > 4000)


@functools.lru_cache(maxsize=64)
def _read_lines(path: str) -> tuple[str, ...]:
    with open(path, encoding="utf-8", errors="replace") as f:
        return tuple(line.rstrip("\n").expandtabs(4) for line in f)


def code_lines(rng: np.random.Generator, n: int) -> list[str]:
    """n consecutive lines of real Python source from a random stdlib module (prose fallback)."""
    files = _source_files()
    if not files:
        return ["    " * int(rng.integers(0, 3)) + sentence(rng).lower() for _ in range(n)]
    lines = _read_lines(files[rng.integers(len(files))])
    start = int(rng.integers(0, max(1, len(lines) - n)))
    chunk = list(lines[start:start + n])
    return chunk + [""] * (n - len(chunk))


_KEYWORDS = frozenset(keyword.kwlist) | {"self", "True", "False", "None", "print", "len", "int", "str", "dict", "list"}
_TOKEN = re.compile(r"(#.*$)|(\"[^\"]*\"?|'[^']*'?)|(\b\d+(?:\.\d+)?\b)|([A-Za-z_]\w*)(?=\s*\()|([A-Za-z_]\w*)|(\s+)|(.)")
_CATEGORIES = ("comment", "string", "number", "call", "name", "space", "punct")


def code_tokens(line: str) -> Iterator[tuple[str, str]]:
    """Split a line of Python into (text, category) for syntax highlighting.

    Categories: comment, string, number, call, keyword, name, space, punct.
    """
    for m in _TOKEN.finditer(line):
        category = _CATEGORIES[m.lastindex - 1]
        if category == "name" and m.group(0) in _KEYWORDS:
            category = "keyword"
        yield m.group(0), category
