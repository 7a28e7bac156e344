"""Encode / decode latency of a bundled model with its networks on a GPU (torch CUDA).

    python bench/gpu_speed.py [--model-dir models/default] [--sizes 720p,1080p] [--repeat 10]
        [--device cuda] [--half] [--json out/gpu_speed.json]

onnxruntime-gpu does not fit the lent GPU hosts' carry limit, so the GPU numbers are measured on the
same networks in PyTorch (the checkpoint in the model directory, its weights = the ONNX graphs'):
g_a + h_a (analysis) and g_s (synthesis) on the device, synchronised, median of --repeat after two
warm-ups; --half runs them under float16 autocast as the fp16 synthesis graph would. The integer
entropy-parameter path and rANS run where the service runs them, on the host CPU, and are timed on
the same latents (encode: entropy-code y, z; decode: decode them). encode = analysis + entropy
coding; decode = entropy decoding + synthesis. The JSON names the GPU and the host.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from screen_codec import codec  # noqa: E402
from screen_codec.entropy.latent_coder import decode_latents, encode_latents  # noqa: E402
from screen_codec.models.torch_networks import TorchNetworks  # noqa: E402
from training.checkpoint import load_compact  # noqa: E402
from training.provenance import cpu_name  # noqa: E402

SIZES = {"720p": (1280, 720), "1080p": (1920, 1080)}


def _median_ms(run: Callable[[], object], repeat: int, device: torch.device) -> float:
    times = []
    for i in range(repeat + 2):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        run()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i >= 2:  # two warm-ups: kernel selection, allocator
            times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def measure(model_dir: Path, size: str, repeat: int, device: torch.device, half: bool, quality: int) -> dict:
    from pages import render_page

    model, metadata = load_compact(model_dir / "compact.pt")
    nets = TorchNetworks(model)  # CPU copy: the integer entropy path and the tables
    gpu_model = model.to(device).eval()
    width, height = SIZES[size]
    rgb, _ = render_page(width, height, seed=1)
    x, m = codec.network_input(rgb, np.zeros((height, width), np.uint8))
    x_t, m_t = torch.from_numpy(x).to(device), torch.from_numpy(m).to(device)
    q_t = torch.tensor([quality], device=device)
    autocast = torch.autocast(device.type, dtype=torch.float16, enabled=half)

    with torch.no_grad(), autocast:
        y_t, z_t = gpu_model.analyse(x_t, m_t, q_t)
    y, z = y_t.float().cpu().numpy(), z_t.float().cpu().numpy()
    sections, y_hat, z_hat = encode_latents(y, z, nets.entropy, nets.tables, quality)
    y_hat_t, z_hat_t = torch.from_numpy(y_hat).to(device), torch.from_numpy(z_hat).to(device)

    def analyse() -> None:
        with torch.no_grad(), autocast:
            gpu_model.analyse(x_t, m_t, q_t)

    def synthesise() -> None:
        with torch.no_grad(), autocast:
            gpu_model.synthesise(y_hat_t, z_hat_t, q_t)

    analysis_ms = _median_ms(analyse, repeat, device)
    synthesis_ms = _median_ms(synthesise, repeat, device)
    cpu = torch.device("cpu")
    code_ms = _median_ms(lambda: encode_latents(y, z, nets.entropy, nets.tables, quality), max(1, repeat // 5), cpu)
    decode_ms = _median_ms(lambda: decode_latents(sections, z.shape, nets.entropy, nets.tables, quality),
                           max(1, repeat // 5), cpu)
    return {
        "model": model.config.name, "step": metadata.get("step"), "size": size, "half": half,
        "analysis_ms": analysis_ms, "synthesis_ms": synthesis_ms,
        "entropy_encode_ms": code_ms, "entropy_decode_ms": decode_ms,
        "encode_ms": analysis_ms + code_ms, "decode_ms": decode_ms + synthesis_ms,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-dir", type=Path, action="append", help="repeatable (default: models/default)")
    ap.add_argument("--sizes", default="720p,1080p")
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--half", action="store_true", help="float16 autocast for the networks")
    ap.add_argument("--quality", type=int, default=3)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    device = torch.device(args.device)
    rows = [
        measure(model_dir, size, args.repeat, device, args.half, args.quality)
        for model_dir in args.model_dir or [REPO / "models" / "default"]
        for size in args.sizes.split(",")
    ]
    for r in rows:
        print(f"{r['model']:8s} {r['size']:6s} half={r['half']!s:5s} encode {r['encode_ms']:7.1f} ms "
              f"(analysis {r['analysis_ms']:.1f} + entropy {r['entropy_encode_ms']:.1f})  decode {r['decode_ms']:7.1f} ms "
              f"(entropy {r['entropy_decode_ms']:.1f} + synthesis {r['synthesis_ms']:.1f})")
    result = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name(),
        "torch": torch.__version__, "host_cpus": os.cpu_count(), "rows": rows,
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
