#!/usr/bin/env bash
# One CPU training phase on a two-core host (docs/TRAINING.md, "CPU phases"): two one-thread
# processes under torchrun (DDP over gloo), jemalloc as the allocator with its page decay off.
# Why the allocator: a 512x512 step allocates and frees gigabytes of activations; glibc hands the
# large blocks back to the kernel and faults them in again next step (~66,000 minor faults a second
# per process, 85 % of the CPU time in the kernel on the Intel Xeon host). jemalloc keeping its
# freed pages (dirty/muzzy decay -1) reuses them: ~0 faults a second, RSS at the step's peak.
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
jemalloc=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
if [[ -e $jemalloc ]]; then
  export LD_PRELOAD=$jemalloc MALLOC_CONF="dirty_decay_ms:-1,muzzy_decay_ms:-1"
else
  echo "no $jemalloc (apt-get install libjemalloc2): glibc malloc, ~2x slower steps here" >&2
fi
mkdir -p "$out"
OMP_NUM_THREADS=1 nohup .venv/bin/torchrun --standalone --nproc_per_node=2 -m training.train \
  --config "$config" --resume "$resume" --out "$out" --threads 1 --decoded-cache runs/decoded \
  > "$out.log" 2>&1 &
echo "training $name from $resume -> $out (log $out.log, pid $!)"
