#!/usr/bin/env bash
# One CPU training phase on a two-core host (docs/TRAINING.md, "What a run costs"): two one-thread
# processes under torchrun (DDP over gloo), jemalloc as the allocator with its page decay off
# (scripts/jemalloc.sh: glibc's page faults took 85 % of a 512x512 step's CPU time on the Intel Xeon host).
# Data flow: CONFIG + RESUME (last.pt: full state; compact.pt: Adam restarted) ──torchrun x2──►
#            OUT/{last.pt, compact.pt, train.csv, run_info.json}; log in OUT.log
# Usage:  training/cpu_phase.sh CONFIG RESUME [OUT]
#   CONFIG  training/configs/compact_cpu_phaseNN.yaml
#   RESUME  checkpoint to continue (the previous phase's last.pt, or this phase's own to go on)
#   OUT     run directory (default runs/compact_cpuNN for compact_cpu_phaseNN)
# Runs in the background and returns; the trainer's progress goes to OUT.log.
set -euo pipefail
cd "$(dirname "$0")/.."

usage="usage: training/cpu_phase.sh CONFIG RESUME [OUT]"
config=${1:?$usage}
resume=${2:?$usage}
name=$(basename "$config" .yaml)
out=${3:-runs/${name/_phase/}}
source scripts/jemalloc.sh
mkdir -p "$out"
OMP_NUM_THREADS=1 nohup .venv/bin/torchrun --standalone --nproc_per_node=2 -m training.train \
  --config "$config" --resume "$resume" --out "$out" --threads 1 --decoded-cache runs/decoded \
  > "$out.log" 2>&1 &
echo "training $name from $resume -> $out (log $out.log, pid $!)"
