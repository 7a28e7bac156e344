"""python -m model_export --checkpoint PATH --out DIR [--fp16-synthesis] [--detector dbnet]

Exports a trained checkpoint (compact.pt[.partKofN], last.pt, or {config, state_dict}) to a model
directory, runs the parity check and writes manifest.json; exits 1 and leaves DIR untouched when
parity fails. ``--untrained CONFIG`` exports a seeded, freshly initialised model instead (a
placeholder, marked "trained": false in its manifest).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import torch

from .export import LoadedCheckpoint, export_model, held_out_rd, held_out_typical_bpp, load_checkpoint, validation_rd
from .parity import ParityError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model_export", description=__doc__.split("\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", type=Path, help="compact.pt (or its parts), last.pt, or {config, state_dict}")
    source.add_argument("--untrained", metavar="CONFIG", help="export a seeded untrained model of this configuration")
    parser.add_argument("--seed", type=int, default=0, help="with --untrained (default %(default)s)")
    parser.add_argument("--out", type=Path, required=True, help="model directory to write (replaced)")
    parser.add_argument("--fp16-synthesis", action="store_true", help="also write synthesis_fp16.onnx (GPU)")
    parser.add_argument("--detector", default="dbnet", choices=["dbnet", "morph", "none"],
                        help="the model's default text detector (default %(default)s)")
    parser.add_argument("--default-quality", type=int, help="default quality (default: the middle one)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--held-out", type=Path, metavar="RD_JSON", action="append",
                        help="a bench/rd.py result measuring this checkpoint on the held-out set (into the "
                        "manifest, and each quality's typical_bpp: the median over its screenshots; repeatable)")
    parser.add_argument("--held-out-variant", help="this checkpoint's variant name in that result, e.g. compact@4800/dbnet")
    args = parser.parse_args(argv)
    if args.held_out and not args.held_out_variant:
        parser.error("--held-out needs --held-out-variant")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)

    if args.checkpoint is not None:
        loaded = load_checkpoint(args.checkpoint)
        validation = validation_rd(args.checkpoint, loaded.metadata.get("step"))
        trained = True
    else:
        from screen_codec.models import build_model

        torch.manual_seed(args.seed)
        loaded = LoadedCheckpoint(build_model(args.untrained), {"seed": args.seed})
        validation, trained = {}, False
    try:
        manifest = export_model(
            loaded.model,
            args.out,
            loaded=loaded,
            detector=args.detector,
            fp16_synthesis=args.fp16_synthesis,
            trained=trained,
            default_quality=args.default_quality,
            validation=validation,
            held_out=held_out_rd(args.held_out, args.held_out_variant) if args.held_out else None,
            typical_bpp=held_out_typical_bpp(args.held_out, args.held_out_variant) if args.held_out else None,
        )
    except ParityError as error:
        print(f"export FAILED, {args.out} left as it was: {error}", file=sys.stderr)
        return 1
    size = sum(f["bytes"] for f in manifest["files"].values())
    print(json.dumps({
        "out": str(args.out),
        "name": manifest["name"],
        "model_id": manifest["model_id"],
        "files_mb": round(size / 1e6, 2),
        "parity_psnr_gap_db": {k: round(v["psnr_gap_db"], 5) for k, v in manifest["parity"]["images"].items()},
        "parity_ambiguous_decisions": {
            k: v["networks"]["decisions"]["symbol_ambiguous"] for k, v in manifest["parity"]["images"].items()
        },
        "parity_cross_decoding": {
            k: [v["torch_stream_in_onnx"]["ok"], v["onnx_stream_in_torch"]["ok"]]
            for k, v in manifest["parity"]["images"].items()
        },
    }, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
