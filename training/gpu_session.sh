#!/usr/bin/env bash
# One training session on a rented GPU host with a wall-clock budget (docs/TRAINING.md).
# Data flow: carried compressai wheel ──pip --no-deps──► $SITE
#            carried data shard (tar, read in memory by training.data.shard) + carried compact
#            checkpoint ──train.py --data --resume, bf16, N minutes──► $RUN
#            ──► compact.pt[.partKofN] (+ compact_ema.pt) + train.csv + val.csv + run_info.json + log into $OUT
# Usage:  training/gpu_session.sh CONFIG MINUTES [CHECKPOINT]
#   CONFIG      training/configs/<name>.yaml
#   MINUTES     training budget; keep ~2 minutes of the host's limit for start-up and copying out
#   CHECKPOINT  compact checkpoint to continue from (default runs/<name>/compact.pt, the last
#               session's copied back; none there: the config's init, else from scratch)
# Env: OUT (default out/<name>; OUT=runs/<name> on a host with a disk makes the next session
#      resume from this one's checkpoint), WHEELS (.whl), SHARD (data/shard.tar), PYTHON (python3),
#      NPROC (processes for torchrun; default: the visible GPUs), DEVICE (cuda; cpu for a dry run).
set -euo pipefail
cd "$(dirname "$0")/.."

config=${1:?usage: training/gpu_session.sh CONFIG MINUTES [CHECKPOINT]}
minutes=${2:?usage: training/gpu_session.sh CONFIG MINUTES [CHECKPOINT]}
name=$(basename "$config" .yaml)
resume=${3:-runs/$name/compact.pt}
out=${OUT:-out/$name}
wheels=${WHEELS:-.whl}
shard=${SHARD:-data/shard.tar}
python=${PYTHON:-python3}
device=${DEVICE:-cuda}
run=/tmp/runs/$name
site=/tmp/site
mkdir -p "$out" "$run"
log="$out/session.log"
exec > >(tee -a "$log") 2>&1
echo "== $(date -u +%FT%TZ) $name: $minutes min, resume ${resume}"

# 1. compressai into a private site dir, never over the host's torch (FINDINGS section 1).
if ! "$python" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('compressai') is None)"; then
  "$python" -m pip install -q --no-index --no-deps --no-compile --target "$site" "$wheels"/compressai-*.whl
  export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
fi

# 2. Train on the shard (the host has no fonts or browser to render screens itself); the shard is
#    a tar that each process reads into memory, so there is nothing to unpack. No shard: the config's
#    data.dir. Each stored image is decoded once into /tmp/decoded (memory-mapped crops,
#    training/data/decoded.py), so the DataLoader workers do not re-decode a screenshot per crop.
#    torchrun (DDP) when several GPUs are visible, else one process.
nproc=${NPROC:-$("$python" -c "import torch; print(max(torch.cuda.device_count(), 1))")}
args=(--config "$config" --device "$device" --out "$run" --max-minutes "$minutes" --decoded-cache /tmp/decoded)
if [[ -f "$shard" ]]; then args+=(--data "$shard"); fi
if compgen -G "$resume*" > /dev/null; then args+=(--resume "$resume"); fi
if ((nproc > 1)); then
  launcher=("$python" -m torch.distributed.run --standalone --nproc_per_node="$nproc")
else
  launcher=("$python")
fi
# A hard stop 3 minutes past the budget still leaves the periodic checkpoints to copy out.
timeout --signal=INT $(( (${minutes%.*} + 3) * 60 )) \
  "${launcher[@]}" -m training.train "${args[@]}" || echo "training exited with status $?"

# 3. Copy out: the GPU tool returns at most 8 files of 16 MiB (64 MiB in all).
for stem in compact compact_ema; do  # compact_ema: the averaged weights, where the config sets ema_decay
  if compgen -G "$run/$stem.pt*" > /dev/null; then
    rm -f "$out/$stem".pt*  # a stale single file or split must not shadow the new checkpoint
    cp "$run/$stem".pt* "$out"/
  fi
done
cp "$run"/train.csv "$run"/val.csv "$run"/run_info.json "$out"/ 2>/dev/null || true
files=$(find "$out" -maxdepth 1 -type f | wc -l)
bytes=$(du -cb "$out" | tail -1 | cut -f1)
echo "== $files files, $bytes bytes in $out"
if ((files > 8 || bytes > 64 * 1024 * 1024)); then
  echo "warning: more than the GPU tool brings back (8 files, 64 MiB); fine on a host with a disk"
fi
