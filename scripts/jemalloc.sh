# Sourced by the long CPU jobs (training/cpu_phase.sh, bench/score_candidate.sh): preload jemalloc
# with its page decay off, so freed blocks stay mapped and are reused instead of being handed back to
# the kernel and faulted in again (docs/TRAINING.md, "What a run costs": a 512x512 training step went
# from ~55 to ~23 s, bench/rd.py's CPU time on one image fell 14 %). Numbers are unchanged; only the allocator is.
jemalloc=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
if [[ -e $jemalloc ]]; then
  export LD_PRELOAD=$jemalloc MALLOC_CONF="dirty_decay_ms:-1,muzzy_decay_ms:-1"
else
  echo "no $jemalloc (apt-get install libjemalloc2): glibc malloc, slower here" >&2
fi
