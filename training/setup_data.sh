#!/usr/bin/env bash
# Install everything the data pipeline and the CPU training phases need (idempotent; Debian 12 + the
# project's .venv).
# Data flow: Debian packages (fonts, chromium, HTML docs, wallpapers) + pinned PyPI playwright
#            -> training/data/{synthetic,harvest,natural}.py -> python -m training.data.build
# Usage: training/setup_data.sh [fonts|browser|docs|wallpapers|desktop|trainer|pip|all]   (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."

FONTS=(fonts-dejavu fonts-liberation2 fonts-noto-core fonts-noto-mono fonts-noto-ui-core
       fonts-roboto fonts-open-sans fonts-lato fonts-cantarell fonts-firacode fonts-jetbrains-mono
       fonts-hack fonts-inconsolata fonts-crosextra-carlito fonts-crosextra-caladea fonts-freefont-ttf)
BROWSER=(chromium)
# Keep in sync with training/data/harvest.py DOC_SOURCES.
DOCS=(python3.11-doc postgresql-doc-15 python-django-doc python-sympy-doc sphinx-doc octave-doc
      gimp-help-en libreoffice-help-en-us ruby3.1-doc nodejs-doc)
# Keep in sync with training/data/natural.py WALLPAPER_PACKAGES.
WALLPAPERS=(mate-backgrounds plasma-workspace-wallpapers ukui-wallpapers gnome-backgrounds
            lomiri-wallpapers-20.04)
# Keep in sync with training/data/desktop.py PACKAGES (the held-out application screenshots).
DESKTOP=(xvfb openbox x11-xserver-utils xdotool xterm vim idle-python3.11 gitk gnumeric gnuplot-x11 mupdf feh git
         fontconfig nettle-dev)
# The allocator of the long CPU jobs (scripts/jemalloc.sh).
TRAINER=(libjemalloc2)

apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    [[ -n "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null)" ]] || apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
  fi
}

pip_install() {
  # PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: we drive Debian's /usr/bin/chromium, never a downloaded browser.
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 .venv/bin/pip install -q -r training/requirements-data.txt
}

what="${1:-all}"
case "$what" in
  fonts) apt_install "${FONTS[@]}"; fc-cache -f >/dev/null ;;
  browser) apt_install "${BROWSER[@]}" ;;
  docs) apt_install "${DOCS[@]}" ;;
  wallpapers) apt_install "${WALLPAPERS[@]}" ;;
  desktop) apt_install "${DESKTOP[@]}" ;;
  trainer) apt_install "${TRAINER[@]}" ;;
  pip) pip_install ;;
  all) apt_install "${FONTS[@]}" "${BROWSER[@]}" "${DOCS[@]}" "${WALLPAPERS[@]}" "${DESKTOP[@]}" "${TRAINER[@]}"
       fc-cache -f >/dev/null; pip_install ;;
  *) echo "usage: $0 [fonts|browser|docs|wallpapers|desktop|trainer|pip|all]" >&2; exit 2 ;;
esac
