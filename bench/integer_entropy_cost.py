"""What the integer entropy-parameter path costs against the float32 networks it was quantised from.

    python bench/integer_entropy_cost.py [--checkpoint models/default/compact.pt]
        [--images tests/fixtures/screenshots] [--size 512] [--json out/integer_cost.json]

For every image (a --size crop, DOM word-box mask) and quality, the same y and z from g_a/h_a are
entropy-coded twice with the one coding loop (screen_codec.entropy.latent_coder): once with the
model's float32 h_s / slice / LRP networks in PyTorch (the path before integer_networks; exact only
within one process) and once with the integer path the product uses. Reported: coded bytes of both,
their ratio, the rate the float model estimates (its likelihoods), and the time of each loop (one
torch thread, one BLAS thread).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import threadpoolctl
import torch

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[1] / "tests")]

from screen_codec import codec  # noqa: E402
from screen_codec.entropy.latent_coder import encode_latents  # noqa: E402
from screen_codec.models.torch_networks import TorchNetworks  # noqa: E402
from training.checkpoint import load_compact  # noqa: E402


class FloatEntropyParameters:
    """The model's float32 entropy-parameter networks behind the EntropyParameters protocol."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.model = model
        self.num_slices = model.config.num_slices

    @torch.no_grad()
    def hyper(self, z_hat: np.ndarray, quality: int) -> tuple[np.ndarray, np.ndarray]:
        means, scales = self.model.hyper(torch.from_numpy(z_hat), torch.tensor([quality]))
        return means.numpy(), scales.numpy()

    @torch.no_grad()
    def slice_moments(
        self, k: int, means: np.ndarray, scales: np.ndarray, support: Sequence[np.ndarray], quality: int
    ):
        mean, scale = self.model.slices.moments(
            k, torch.from_numpy(means), torch.from_numpy(scales), [torch.from_numpy(s) for s in support],
            self.model.entropy_gain(torch.tensor([quality])),
        )
        return mean.numpy(), scale.numpy()

    @torch.no_grad()
    def refine(self, k: int, means: np.ndarray, support: Sequence[np.ndarray], y_hat: np.ndarray) -> np.ndarray:
        refined = self.model.slices.refine(
            k, torch.from_numpy(means), [torch.from_numpy(s) for s in support], torch.from_numpy(y_hat)
        )
        return refined.numpy()


def _coded_bytes(sections) -> int:
    return len(sections.z) + sum(len(s) for s in sections.y)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", type=Path, default=Path("models/default/compact.pt"))
    ap.add_argument("--images", type=Path, default=Path("tests/fixtures/screenshots"))
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    from test_codec import _screenshot

    torch.set_num_threads(1)  # one thread each: the comparison is per core
    threadpoolctl.threadpool_limits(1, user_api="blas")
    model, metadata = load_compact(args.checkpoint)
    nets = TorchNetworks(model)
    float_params = FloatEntropyParameters(model)
    rows = []
    for path in sorted(args.images.glob("*.webp")):
        rgb, mask = _screenshot(path.stem, args.size, args.size)
        x, m = codec.network_input(rgb, mask)
        pixels = mask.size
        for quality in range(1, nets.num_qualities + 1):
            y, z = nets.analyse(x, m, quality)
            timed = {}
            for name, params in (("float", float_params), ("integer", nets.entropy)):
                start = time.perf_counter()
                sections, _, _ = encode_latents(y, z, params, nets.tables, quality)
                timed[name] = (_coded_bytes(sections), time.perf_counter() - start)
            with torch.no_grad():
                out = model(torch.from_numpy(x), torch.from_numpy(m), torch.tensor([quality]))
            estimate = sum(float(-torch.log2(lik).sum()) for lik in out["likelihoods"].values()) / 8
            rows.append({
                "image": path.stem, "quality": quality,
                "float_bytes": timed["float"][0], "integer_bytes": timed["integer"][0],
                "estimate_bytes": estimate, "ratio": timed["integer"][0] / timed["float"][0],
                "float_s": timed["float"][1], "integer_s": timed["integer"][1],
                "bpp_integer": timed["integer"][0] * 8 / pixels,
            })
            print(f"{path.stem:28s} q{quality}: float {timed['float'][0]:7d} B  integer {timed['integer'][0]:7d} B "
                  f"(x{rows[-1]['ratio']:.4f})  estimate {estimate:9.0f} B  "
                  f"loop {timed['float'][1]:.2f} s / {timed['integer'][1]:.2f} s", flush=True)
    total_float = sum(r["float_bytes"] for r in rows)
    total_integer = sum(r["integer_bytes"] for r in rows)
    ratios = [r["ratio"] for r in rows]
    summary = {
        "checkpoint": str(args.checkpoint), "step": metadata.get("step"), "size": args.size,
        "images": len(rows) // nets.num_qualities,
        "total_ratio": total_integer / total_float, "min_ratio": min(ratios), "max_ratio": max(ratios),
        "float_loop_s": sum(r["float_s"] for r in rows), "integer_loop_s": sum(r["integer_s"] for r in rows),
    }
    print(json.dumps(summary, indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"summary": summary, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
