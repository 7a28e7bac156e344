"""CPU speed and peak memory of the serving runtime (service.runtime), and rANS vs constriction.

    python bench/runtime_speed.py [--model-dir models/default] [--threads 2] [--repeat 2]
        [--sizes 720p,1080p,4k] [--tile-4k 1024] [--json out/runtime_speed.json] [--no-entropy]

Every (size, operation) runs in a fresh subprocess so that its peak RSS (resource.getrusage
ru_maxrss) belongs to that operation alone: the worker loads the runtime (warm-up included), notes
its RSS, runs the operation --repeat times and reports the best wall time, the stage times of that
run and the peak RSS. Encode uses the page's exact word-box mask (no detector time); decode reads
the stream the encode worker wrote. 4K is coded in tiles (--tile-4k).

The entropy-coder section captures the symbols, CDF indexes and tables that the runtime hands to
CompressAI's rANS while encoding a 720p page, and codes the same data with `constriction`'s ANS
coder (pip install constriction; measurement only), both ways: with the same quantised tables
(categorical models grouped by table entry) and with constriction's own QuantizedGaussian.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from training.provenance import cpu_name  # noqa: E402

SIZES = {"720p": (1280, 720), "1080p": (1920, 1080), "4k": (3840, 2160)}


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: kilobytes


def _page(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    from pages import render_page

    rgb, boxes = render_page(width, height, seed=1)
    mask = np.zeros((height, width), np.uint8)
    for x0, y0, x1, y1 in boxes:
        mask[y0:y1, x0:x1] = 1
    return rgb, mask


# ---------------------------------------------------------------- worker (one subprocess per run)
def worker(args: argparse.Namespace) -> None:
    from service.runtime import CodecRuntime

    start = time.perf_counter()
    runtime = CodecRuntime.load(
        args.model_dir, providers=["CPUExecutionProvider"], intra_op_threads=args.threads, tile_size=args.tile,
        entropy_threads=args.threads,
    )
    load_s = time.perf_counter() - start
    width, height = SIZES[args.size]
    report: dict = {"size": args.size, "op": args.op, "tile": args.tile, "load_s": load_s}
    if args.op == "encode":
        rgb, mask = _page(width, height)
        report["rss_before_mb"] = _rss_mb()
        runs = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            result = runtime.encode(rgb, args.quality, mask)
            runs.append((time.perf_counter() - t, result.timings_ms))
        Path(args.stream).write_bytes(result.bitstream)
        report["bpp"] = result.bpp
    else:
        data = Path(args.stream).read_bytes()
        report["rss_before_mb"] = _rss_mb()
        runs = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            result = runtime.decode(data)
            runs.append((time.perf_counter() - t, result.timings_ms))
    best = min(runs, key=lambda r: r[0])
    report.update(
        seconds=best[0],
        all_seconds=[r[0] for r in runs],
        stages_ms={k: round(v, 1) for k, v in best[1].items()},
        peak_rss_mb=_rss_mb(),
    )
    print("RESULT " + json.dumps(report))


def run_worker(args: argparse.Namespace, size: str, op: str, tile: int, stream: Path) -> dict:
    command = [
        sys.executable, __file__, "--worker", "--op", op, "--size", size, "--tile", str(tile),
        "--stream", str(stream), "--model-dir", str(args.model_dir), "--threads", str(args.threads),
        "--repeat", str(args.repeat), "--quality", str(args.quality),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    out = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"worker {size} {op} failed:\n{out.stderr[-3000:]}")


# ---------------------------------------------------------------- rANS vs constriction
def entropy_coders(args: argparse.Namespace) -> dict:
    from screen_codec.entropy import rans
    from service.runtime import CodecRuntime

    try:
        import constriction
    except ImportError:
        return {"skipped": "constriction is not installed (pip install constriction)"}

    runtime = CodecRuntime.load(
        args.model_dir, providers=["CPUExecutionProvider"], intra_op_threads=args.threads, entropy_threads=args.threads
    )
    calls: list[tuple[np.ndarray, np.ndarray, rans.CdfTable]] = []
    original = rans.encode

    def capture(symbols, indexes, table):
        calls.append((symbols.copy(), indexes.copy(), table))
        return original(symbols, indexes, table)

    rans.encode = capture
    try:
        rgb, mask = _page(*SIZES["720p"])
        runtime.encode(rgb, args.quality, mask)
    finally:
        rans.encode = original
    n = sum(s.size for s, _, _ in calls)

    def best(fn, repeat=3):
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            value = fn()
            times.append(time.perf_counter() - t)
        return min(times), value

    # the codec's rANS: CompressAI's encoder (list conversion included), the bounds-checked decoder
    enc_s, streams = best(lambda: [rans.encode(s, i, t) for s, i, t in calls])
    dec_s, decoded = best(lambda: [rans.decode(b, i, t) for b, (_, i, t) in zip(streams, calls)])
    assert all(np.array_equal(d, s) for d, (s, _, _) in zip(decoded, calls))
    compressai_bytes = sum(len(b) for b in streams)

    # constriction with the same quantised tables: one categorical model per table entry,
    # symbols grouped by entry (the decoder knows every index before decoding a section)
    def pmf_models(table: rans.CdfTable):
        models = []
        for cdf, length in zip(table.cdfs, table.lengths):
            pmf = np.diff(cdf[:length]).astype(np.float64)
            models.append(constriction.stream.model.Categorical(pmf / pmf.sum(), perfect=False))
        return models

    tables = {id(t): (t, pmf_models(t)) for _, _, t in calls}
    clipped = 0

    def c_encode():
        nonlocal clipped
        clipped = 0
        out = []
        for symbols, indexes, table in calls:
            models = tables[id(table)][1]
            s = symbols.reshape(-1)
            idx = indexes.reshape(-1)
            coder = constriction.stream.stack.AnsCoder()
            for k in np.unique(idx)[::-1]:  # reverse order: ANS is a stack
                values = s[idx == k] - table.offsets[k]
                top = table.lengths[k] - 2  # the last bin is CompressAI's escape bin
                clipped += int(((values < 0) | (values > top)).sum())
                coder.encode_reverse(np.clip(values, 0, top).astype(np.int32), models[k])
            out.append(coder.get_compressed())
        return out

    def c_decode(compressed):
        out = []
        for data, (symbols, indexes, table) in zip(compressed, calls):
            models = tables[id(table)][1]
            idx = indexes.reshape(-1)
            coder = constriction.stream.stack.AnsCoder(data)
            values = np.empty(idx.size, np.int32)
            for k in np.unique(idx):
                where = np.flatnonzero(idx == k)
                values[where] = coder.decode(models[k], where.size) + table.offsets[k]
            out.append(values)
        return out

    c_enc_s, c_streams = best(c_encode)
    c_dec_s, _ = best(lambda: c_decode(c_streams))
    c_bytes = sum(c.nbytes for c in c_streams)

    # constriction's QuantizedGaussian with the table's scales (y sections only)
    gauss = [(s, i) for s, i, t in calls if t is runtime.networks.tables.gaussian_table]
    scale_table = runtime.networks.tables.scale_table
    family = constriction.stream.model.QuantizedGaussian(-255, 255)

    def g_encode():
        out = []
        for s, i in gauss:
            coder = constriction.stream.stack.AnsCoder()
            stds = scale_table[i.reshape(-1)].astype(np.float64)
            coder.encode_reverse(np.clip(s.reshape(-1), -255, 255).astype(np.int32), family, np.zeros_like(stds), stds)
            out.append(coder.get_compressed())
        return out

    def g_decode(compressed):
        out = []
        for data, (s, i) in zip(compressed, gauss):
            stds = scale_table[i.reshape(-1)].astype(np.float64)
            out.append(constriction.stream.stack.AnsCoder(data).decode(family, np.zeros_like(stds), stds))
        return out

    g_enc_s, g_streams = best(g_encode)
    g_dec_s, _ = best(lambda: g_decode(g_streams))
    n_gauss = sum(s.size for s, _ in gauss)
    y_bytes_compressai = sum(len(b) for b, (_, _, t) in zip(streams, calls) if t is runtime.networks.tables.gaussian_table)

    def row(enc, dec, size, count):
        return {"encode_s": enc, "decode_s": dec, "encode_msym_s": count / enc / 1e6,
                "decode_msym_s": count / dec / 1e6, "bytes": int(size)}

    return {
        "image": "720p page", "quality": args.quality, "symbols": n, "sections": len(calls),
        "nonzero_symbols": int(sum(np.count_nonzero(s) for s, _, _ in calls)),
        "compressai_rans": row(enc_s, dec_s, compressai_bytes, n),
        "constriction_same_tables": {**row(c_enc_s, c_dec_s, c_bytes, n), "clipped_escapes": clipped},
        "y_only": {
            "symbols": n_gauss,
            "compressai_rans_bytes": y_bytes_compressai,
            "constriction_quantized_gaussian": row(g_enc_s, g_dec_s, sum(c.nbytes for c in g_streams), n_gauss),
        },
        "constriction_version": getattr(constriction, "__version__", "0.5.0"),
    }


# ---------------------------------------------------------------- main
def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model-dir", type=Path, default=REPO / "models" / "default")
    p.add_argument("--threads", type=int, default=2, help="ORT intra-op threads and BLAS threads of the entropy path")
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--quality", type=int, default=3)
    p.add_argument("--sizes", default="720p,1080p,4k")
    p.add_argument("--tile-4k", type=int, default=1024, help="tile size for 4K (others: untiled)")
    p.add_argument("--json", type=Path, default=REPO / "out" / "runtime_speed.json")
    p.add_argument("--no-entropy", action="store_true", help="skip the rANS vs constriction section")
    # worker mode
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--op", choices=["encode", "decode"], help=argparse.SUPPRESS)
    p.add_argument("--size", help=argparse.SUPPRESS)
    p.add_argument("--tile", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--stream", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args)
        return

    manifest = json.loads((args.model_dir / "manifest.json").read_text())
    sizes = [s for s in args.sizes.split(",") if s]  # --sizes "": the entropy-coder section only
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            tile = args.tile_4k if size == "4k" else 0
            stream = Path(tmp) / f"{size}.bin"
            for op in ("encode", "decode"):
                r = run_worker(args, size, op, tile, stream)
                results.append(r)
                print(f"{size:>5} {op:6} {r['seconds']:7.2f} s  peak RSS {r['peak_rss_mb']:7.0f} MB  {r['stages_ms']}",
                      flush=True)
    print()
    print(f"model {manifest['name']} ({manifest['model_id']}), {args.threads} ORT + BLAS threads, CPU, quality {args.quality}")
    print("| size | tile | encode s | decode s | encode peak RSS MB | decode peak RSS MB | bpp |")
    print("|---|---|---|---|---|---|---|")
    by = {(r["size"], r["op"]): r for r in results}
    for size in sizes:
        e, d = by[(size, "encode")], by[(size, "decode")]
        print(f"| {size} | {e['tile'] or '-'} | {e['seconds']:.2f} | {d['seconds']:.2f} | "
              f"{e['peak_rss_mb']:.0f} | {d['peak_rss_mb']:.0f} | {e['bpp']:.3f} |")
    entropy = None if args.no_entropy else entropy_coders(args)
    if entropy:
        print(json.dumps(entropy, indent=1))
    report = {
        "model": manifest["name"], "model_id": manifest["model_id"], "trained": manifest.get("trained"),
        "threads": args.threads, "repeat": args.repeat, "quality": args.quality,
        "machine": {"processor": cpu_name(), "cpus": os.cpu_count(),
                    "load_avg": os.getloadavg()},
        "results": results, "entropy_coders": entropy,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
