#!/usr/bin/env bash
# Score a trained candidate against the bundled default on every held-out set, the gate a new
# default has to pass (issue 3: it replaces the old one only where its BD-rate is better).
#
#   bench/score_candidate.sh CANDIDATE TAG PREVIOUS_TAG
#     CANDIDATE     a checkpoint or run directory (runs/compact_cpu59)
#     TAG           names the reports: bench/results/<set>_TAG.{json,md}
#     PREVIOUS_TAG  the reports whose points are reused (the default's and the classical codecs':
#                   nothing is coded again while screen_codec/ is unchanged)
#
# Sets: heldout (the 4 held-out real screenshots, data/manifest.json test split), heldout16
# (bench/heldout16.txt, from data_full), desktop16 (the 16 application screens, data_desktop),
# synthetic_val6 (six rendered screens, ours only) and heldout36 (the three real sets pooled, ours only).
# Two lanes of one thread each, for the 2-core host (~8 minutes on an AMD EPYC, 25 on an Intel Xeon);
# rd.py's output goes to runs/score_TAG_<set>.log. Ends with the candidate-vs-default line of each set.
# Runs under jemalloc (scripts/jemalloc.sh): the same points, 14 % less CPU time on one image measured;
# their encode_ms and decode_ms are then jemalloc's.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/jemalloc.sh
PY=${PYTHON:-.venv/bin/python}
if [[ $# -ne 3 ]]; then
  sed -n '5,9p' "$0" >&2
  exit 2
fi
candidate=$1 tag=$2 previous=$3
mkdir -p runs

score() {  # score SET rd.py-arguments...
  local set=$1
  shift
  "$PY" bench/rd.py --checkpoint models/default/compact.pt --checkpoint "$candidate" --detector dbnet \
    --threads 1 --markdown "$@" --reuse "bench/results/${set}_${previous}.json" \
    --out "bench/results/${set}_${tag}.json" > "runs/score_${tag}_${set}.log" 2>&1
}

( score heldout16 --images bench/heldout16.txt
  score heldout --images data/manifest.json --split test ) &
lane1=$!
( score desktop16 --images data_desktop/desktop
  score synthetic_val6 --ablation --images bench/synthetic_val6.txt ) &
lane2=$!
wait "$lane1"
wait "$lane2"
score heldout36 --ablation --images data/manifest.json bench/heldout16.txt data_desktop/desktop --split test \
  --reuse "bench/results/heldout_${tag}.json" --reuse "bench/results/heldout16_${tag}.json" \
  --reuse "bench/results/desktop16_${tag}.json"

for set in heldout heldout16 desktop16 synthetic_val6 heldout36; do
  echo "$set: $(grep -m1 -A2 '^| test | anchor' "bench/results/${set}_${tag}.md" | tail -n 1)"
done
