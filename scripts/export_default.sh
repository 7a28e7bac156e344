#!/usr/bin/env bash
# Export the newest trained checkpoint under runs/ into models/default/ (the bundled model), or
# into another bundled model directory with OUT=models/<name>.
#
#   scripts/export_default.sh                 newest runs/*/compact.pt[.partKofN] (or last.pt)
#   scripts/export_default.sh PATH            that checkpoint
#   scripts/export_default.sh --untrained     seeded untrained compact model, marked as a placeholder
#   OUT=models/lite scripts/export_default.sh runs/lite_cpu/compact.pt
#   scripts/export_default.sh PATH --held-out bench/results/X.json --held-out-variant compact@4800/dbnet
#                                             (arguments after PATH go to python -m model_export)
#
# Runs python -m model_export (graphs + fp16 synthesis + parity + manifest) into a staging directory,
# checks that all bundled model files together (models/*) stay under 60 MB, and only then replaces $OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
OUT=${OUT:-models/default}
LIMIT_MB=${LIMIT_MB:-60}

if [[ "${1:-}" == "--untrained" ]]; then
  source_args=(--untrained compact --seed 0)
  shift
  echo "exporting a seeded UNTRAINED compact model (placeholder)"
else
  ckpt=${1:-}
  shift || true
  if [[ -z "$ckpt" ]]; then
    # newest compact checkpoint (single file or first part), else the newest full checkpoint
    newest=$(ls -t runs/*/compact.pt runs/*/compact.pt.part1of* 2>/dev/null | head -n 1 || true)
    [[ -n "$newest" ]] || newest=$(ls -t runs/*/last.pt 2>/dev/null | head -n 1 || true)
    if [[ -z "$newest" ]]; then
      echo "no checkpoint under runs/ (runs/*/compact.pt or last.pt); pass a PATH or --untrained" >&2
      exit 2
    fi
    ckpt=${newest%.part1of*}
  fi
  source_args=(--checkpoint "$ckpt")
  echo "exporting $ckpt"
fi

staging=$(mktemp -d "$(dirname "$OUT")/.export_default.XXXXXX")
trap 'rm -rf "$staging"' EXIT
"$PY" -m model_export "${source_args[@]}" "$@" --out "$staging/model" --fp16-synthesis --detector dbnet
# The trained weights travel with the bundle (the core asset: continue training, torch reference
# codec); the manifest records their sha256 under "checkpoint".
if [[ -n "${ckpt:-}" ]]; then
  for part in "$ckpt" "$ckpt".part*of*; do
    [[ -f $part ]] && cp "$part" "$staging/model/"
  done
fi

bytes=$(du -sb "$staging/model" | cut -f1)
others=0
for dir in "$(dirname "$OUT")"/*/; do
  [[ "$(realpath "$dir")" == "$(realpath -m "$OUT")" ]] || others=$(( others + $(du -sb "$dir" | cut -f1) ))
done
mb=$(( bytes / 1000000 ))
total_mb=$(( (bytes + others) / 1000000 ))
echo "model directory: ${mb} MB; all bundled models with it: ${total_mb} MB"
if (( bytes + others > LIMIT_MB * 1000000 )); then
  echo "bundled model files would be ${total_mb} MB, above the ${LIMIT_MB} MB limit; not replacing $OUT" >&2
  exit 1
fi
rm -rf "$OUT"
mv "$staging/model" "$OUT"
echo "wrote $OUT:"
ls -l "$OUT"
