"""Screen-content training data, all generated offline.

Data flow: synthetic.py (seeded screens with exact text masks) + harvest.py (Chromium screenshots of
Debian HTML docs and composed pages, DOM word boxes) + natural.py (wallpaper photo crops)
-> build.py (one command: data dir + split manifest + cached detector masks) -> dataset.py (torch
Datasets, compact shard for GPU hosts). See docs/DATA.md.
"""
