"""Rate-distortion benchmark: our codec (real bitstreams) against the classical codecs users pick.

    python bench/rd.py --images tests/fixtures/screenshots tests/test_service_screens \\
        --checkpoint runs/compact_cpu --detector dbnet --out bench/results/fixtures.json --markdown
    python bench/rd.py --images data/manifest.json --split test --checkpoint runs/x/compact.pt ...
    python bench/rd.py --ablation --images DIR --checkpoint paper.pt --checkpoint wacnn.pt \\
        --detector dbnet --detector none --out bench/results/ablation.json --markdown

    images ──(GT text mask from <stem>.json word boxes or <stem>.mask.png, for text PSNR only)──►
      ours:      detector mask ──codec.encode_image (TorchNetworks, quality 1..Q)──► bytes
                 ──codec.decode_image──► RGB                   (the product's request path)
      classical: classical.CODECS, each over its quality sweep   (skipped with --ablation)
    ──► per image and setting: bpp, PSNR-RGB, text PSNR, encode / decode ms
    ──► average curve per codec: mean bpp and mean PSNR over the images at each setting
    ──► its frontier (settings no other setting of the codec beats on both bpp and PSNR)
    ──► BD-rate / BD-PSNR (bd_rate.py) of each of our variants against each classical codec and
        of every later variant against the first, on the average curves (headline), per image
        (median) and per setting (bits over the anchor's at the setting's PSNR: where along the
        curve the BD-rate comes from); classical codecs also against AVIF 4:4:4, the strongest.
        So one run with --reuse gives an A/B of two checkpoints and both against the classical codecs.

Variants are every --checkpoint x every --detector x every --rounding-threshold-bits (the encoder's
rate-aware rounding, latent_coder.round_residuals; default the service's, inf = nearest integers;
a label names a finite threshold as ``+rT``). A checkpoint is a compact checkpoint file
(or its .partKofN set), a run directory holding compact.pt, or ``untrained:<config>`` (a seeded,
untrained model: a pipeline check, not a result). The text mask fed to our encoder comes from
the detector (``gt``: the images' own word-box masks, an oracle detector); the mask that scores
text PSNR is always the ground truth. Timings are single runs on whatever host runs this; the
JSON records the host, its load and the thread count. ``--reuse`` takes points from an earlier
result JSON where they would come out the same: classical points when image bytes, codec, setting,
library versions and threads match; our points when image bytes, model id, detector, rounding, quality,
tile size and threads match and neither run had screen_codec/ differ from the tree it names (the codec,
the networks and the detectors live there). So an A/B of a new checkpoint against the default that
an earlier run measured codes only the new one; ``--reuse`` repeated merges several runs (arms of
an A/B measured side by side in separate runs come together in one report at no cost).
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import math
import os
import platform
import statistics
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import threadpoolctl
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from bench import classical  # noqa: E402
from bench.bd_rate import bd_psnr, bd_rate, psnr_at_rate, rate_at_psnr  # noqa: E402
from screen_codec.codec import decode_image, encode_image  # noqa: E402
from screen_codec.detectors import text_mask  # noqa: E402
from screen_codec.entropy.latent_coder import RATE_AWARE_ROUNDING_BITS  # noqa: E402
from screen_codec.models import build_model, parameter_counts  # noqa: E402
from screen_codec.models.torch_networks import TorchNetworks  # noqa: E402
from training.checkpoint import load_compact  # noqa: E402
from training.data import store  # noqa: E402
from training.data.canvas import rasterise_boxes  # noqa: E402
from training.provenance import cpu_name, git  # noqa: E402

IMAGE_SUFFIXES = (".png", ".webp", ".jpg", ".jpeg", ".bmp")
ANCHOR = "avif-444"  # the bar (FINDINGS section 5)
REPORT_RATES = (0.3, 0.5, 1.0)  # bpp at which tables read PSNR off each curve

Point = dict[str, Any]  # one image at one setting: codec, setting, image, sha256 + Measurement
Curve = list[dict[str, Any]]  # per setting: mean bpp, psnr, text_psnr, encode_ms, decode_ms


@dataclass(frozen=True)
class BenchImage:
    name: str
    path: str
    rgb: np.ndarray
    text_mask: np.ndarray | None  # ground truth, for text PSNR (and the ``gt`` detector)
    mask_source: str | None
    sha256: str


# ---------------------------------------------------------------- images
def _ground_truth_mask(path: Path, width: int, height: int) -> tuple[np.ndarray | None, str | None]:
    meta_path, mask_png = path.with_suffix(".json"), store.mask_path(path)
    if meta_path.is_file():
        boxes = json.loads(meta_path.read_text()).get("word_boxes")
        if boxes is not None:
            return rasterise_boxes([tuple(b) for b in boxes], width, height), "word boxes"
    if mask_png.is_file():
        return store.load_mask(mask_png), "mask png"
    return None, None


def _image_files(spec: str, split: str) -> list[Path]:
    path = Path(spec)
    if path.is_dir():
        return sorted(
            p for p in path.iterdir()
            if p.suffix.lower() in IMAGE_SUFFIXES and ".mask." not in p.name and ".det-" not in p.name
        )
    if path.name == "manifest.json":
        items = store.read_manifest(path.parent)
        return [path.parent / it.image for it in items if it.split == split and it.kind == "screenshot"]
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return [path]
    # a list file: one image path per line, relative to the list's folder
    lines = [line.strip() for line in path.read_text().splitlines()]
    return [path.parent / line for line in lines if line and not line.startswith("#")]


def load_images(specs: Sequence[str], split: str = "test") -> list[BenchImage]:
    """Images from folders, files, list files or a data manifest (screenshots of ``split``). Pooled
    sets stay distinct images: the same pixels listed twice count once, and a name two different
    images share (gimp-help-en/00000 of two data builds) takes its pixel hash's prefix."""
    images: list[BenchImage] = []
    for path in (p for spec in specs for p in _image_files(spec, split)):
        rgb = store.load_rgb(path)
        sha256 = hashlib.sha256(rgb.tobytes()).hexdigest()
        if any(image.sha256 == sha256 for image in images):
            continue
        mask, source = _ground_truth_mask(path, rgb.shape[1], rgb.shape[0])
        name = f"{path.parent.name}/{path.stem}"
        if any(image.name == name for image in images):
            name = f"{name}#{sha256[:8]}"
        images.append(BenchImage(name, str(path), rgb, mask, source, sha256))
    if not images:
        raise SystemExit(f"no images found in {list(specs)}")
    return images


# ---------------------------------------------------------------- our codec
@dataclass
class Variant:
    label: str
    checkpoint: str
    detector: str
    rounding_threshold_bits: float
    nets: TorchNetworks
    info: dict[str, Any]


def load_variant(
    checkpoint: str, detector: str, seed: int, rounding_threshold_bits: float = RATE_AWARE_ROUNDING_BITS
) -> Variant:
    """Our model behind ``codec.CodecNetworks``, from a compact checkpoint or ``untrained:<config>``."""
    if checkpoint.startswith("untrained:"):
        config = checkpoint.split(":", 1)[1]
        torch.manual_seed(seed)
        model, metadata = build_model(config), {"untrained": True, "seed": seed}
        name = f"untrained-{config}"
    else:
        path = Path(checkpoint)
        path = path / "compact.pt" if path.is_dir() else path
        model, metadata = load_compact(path)
        name = f"{model.config.name}@{metadata.get('step', '?')}"
    nets = TorchNetworks(model)
    info = {
        "config": json.loads(model.config.to_json()),
        "parameters": parameter_counts(model)["total"],
        "model_id": nets.model_id.hex(),
        "metadata": {k: v for k, v in metadata.items() if isinstance(v, (str, int, float, bool))},
    }
    rounding = "" if rounding_threshold_bits == math.inf else f"+r{rounding_threshold_bits:g}"
    return Variant(f"{name}/{detector}{rounding}", checkpoint, detector, rounding_threshold_bits, nets, info)


def distinct_labels(variants: list[Variant]) -> list[Variant]:
    """Two checkpoints of one configuration at one step (e.g. an ablation's two runs) would share
    a label and so merge their points: name those by their training config, else their path."""
    counts = Counter(v.label for v in variants)
    for v in variants:
        if counts[v.label] > 1:
            source = v.info["metadata"].get("train_config") or v.checkpoint
            name, detector = v.label.rsplit("/", 1)
            v.label = f"{name}:{source}/{detector}"
    if len({v.label for v in variants}) < len(variants):
        raise SystemExit("two variants are the same checkpoint, detector and rounding")
    return variants


def learned_codec_key(model_id: str, detector: str, rounding_threshold_bits: float) -> str:
    """What makes our points reproducible across runs, in place of a label that names a path."""
    return f"{model_id}/{detector}/{rounding_threshold_bits:g}"


def run_variant(
    variant: Variant, images: Sequence[BenchImage], tile_size: int, reuse: dict[tuple, Point]
) -> list[Point]:
    """Code every image at every quality through the real bitstream path and measure it."""
    key = learned_codec_key(variant.info["model_id"], variant.detector, variant.rounding_threshold_bits)
    points = []
    for image in images:
        qualities = range(1, variant.nets.num_qualities + 1)
        earlier = [reuse.get((image.sha256, key, quality)) for quality in qualities]
        if all(earlier):
            points += [p | {"codec": variant.label, "image": image.name} for p in earlier]
            continue
        start = time.perf_counter()
        if variant.detector == "gt":
            if image.text_mask is None:
                raise SystemExit(f"--detector gt needs a ground-truth mask; {image.path} has none")
            mask = image.text_mask
        else:
            mask = text_mask(image.rgb, variant.detector)
        mask_ms = (time.perf_counter() - start) * 1e3
        for quality in qualities:
            m = classical.measure(
                image.rgb,
                image.text_mask,
                lambda: encode_image(
                    variant.nets, image.rgb, mask, quality, tile_size, variant.rounding_threshold_bits
                ),
                lambda data: decode_image(variant.nets, data),
            )
            points.append(_point(variant.label, quality, image, m) | {"mask_ms": mask_ms})
            _progress(variant.label, quality, image, m)
    return points


# ---------------------------------------------------------------- classical codecs
def _point(codec: str, setting: int, image: BenchImage, m: classical.Measurement) -> Point:
    return {"codec": codec, "setting": setting, "image": image.name, "sha256": image.sha256, **asdict(m)}


def _progress(codec: str, setting: int, image: BenchImage, m: classical.Measurement) -> None:
    text = f"{m.text_psnr:6.2f}" if m.text_psnr is not None else "   n/a"
    print(
        f"{codec:>22} {setting:>3} {image.name:<40} {m.bpp:7.4f} bpp {m.psnr:6.2f} dB text {text}"
        f" enc {m.encode_ms:8.1f} ms dec {m.decode_ms:7.1f} ms",
        file=sys.stderr,
        flush=True,
    )


def same_codec_tree(then: dict[str, Any], now: dict[str, Any]) -> bool:
    """Whether two runs' ``code_version()`` records name one screen_codec/ tree, unmodified in both."""
    def clean(changed: list[str]) -> bool:
        return not any(line[3:].startswith("screen_codec/") for line in changed)

    trees = {git("rev-parse", f"{code['git_commit']}:screen_codec") for code in (then, now)}
    return len(trees) == 1 and "unknown" not in trees and all(
        clean(code["changed_files"]) for code in (then, now)
    )


def reusable_points(
    paths: Sequence[Path], versions: dict[str, str], threads: int, tile_size: int, code: dict[str, Any]
) -> dict[tuple, Point]:
    """Points of earlier runs that this one would measure again, keyed (image sha256, codec, setting)
    with our variants' codec named by ``learned_codec_key``; a later path's point wins a tie."""
    points: dict[tuple, Point] = {}
    for path in paths:
        points |= _reusable_points_of(path, versions, threads, tile_size, code)
    return points


def _reusable_points_of(
    path: Path, versions: dict[str, str], threads: int, tile_size: int, code: dict[str, Any]
) -> dict[tuple, Point]:
    earlier = json.loads(path.read_text())
    meta = earlier["meta"]
    if meta["threads"] != threads:
        print(f"--reuse {path}: {meta['threads']} threads, not {threads}; recomputing", file=sys.stderr)
        return {}
    codecs = {c: c for c in classical.CODECS} if meta["libraries"] == versions else {}
    if meta["tile_size"] == tile_size and same_codec_tree(meta["code"], code):
        codecs |= {  # runs before rate-aware rounding rounded to the nearest integer
            v["label"]: learned_codec_key(v["model_id"], v["detector"], v.get("rounding_threshold_bits", math.inf))
            for v in meta["variants"]
        }
    print(f"--reuse {path}: points of {sorted(codecs) or 'nothing'}", file=sys.stderr)
    return {
        (p["sha256"], codecs[p["codec"]], p["setting"]): {"reused_from": f"{path} ({meta['date']})", **p}
        for p in earlier["points"]
        if p["codec"] in codecs
    }


def run_classical(
    codecs: Sequence[str], images: Sequence[BenchImage], threads: int, reuse: dict[tuple, Point]
) -> list[Point]:
    points = []
    for name in codecs:
        codec = classical.CODECS[name]
        for image in images:
            for setting in codec.settings:
                earlier = reuse.get((image.sha256, name, setting))
                if earlier is not None:
                    points.append(earlier | {"image": image.name})
                    continue
                m = classical.code_image(codec, image.rgb, image.text_mask, setting, threads)
                points.append(_point(name, setting, image, m))
                _progress(name, setting, image, m)
    return points


# ---------------------------------------------------------------- curves and BD-rates
def _mean(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.fmean(present) if present else None


def average_curve(points: Sequence[Point], codec: str) -> Curve:
    """Per setting, the mean over images of bpp, PSNR, text PSNR (images with a mask) and times."""
    by_setting: dict[int, list[Point]] = {}
    for p in points:
        if p["codec"] == codec:
            by_setting.setdefault(p["setting"], []).append(p)
    keys = ("bpp", "psnr", "text_psnr", "encode_ms", "decode_ms")
    return [
        {"setting": s, "images": len(ps), **{k: _mean([p[k] for p in ps]) for k in keys}}
        for s, ps in sorted(by_setting.items())
    ]


def frontier(curve: Curve, metric: str = "psnr") -> list[tuple[float, float]]:
    """(bpp, metric) of the settings no other setting beats on both axes, by rising rate: the
    operating points a user would pick. A dominated setting (e.g. a codec's lowest quality that
    costs more bits than the next one) would fold the curve back and spoil the interpolation."""
    points = sorted((c["bpp"], c[metric]) for c in curve if c[metric] is not None)
    kept: list[tuple[float, float]] = []
    for rate, quality in points:
        if not kept or quality > kept[-1][1]:
            kept = [k for k in kept if k[0] < rate]  # an equal rate with less quality is beaten
            kept.append((rate, quality))
    return kept


def _bd(anchor: Curve, test: Curve, metric: str) -> dict[str, Any]:
    a, t = frontier(anchor, metric), frontier(test, metric)
    if not a or not t:
        missing = f"no {metric} values (no image has a text mask)"
        return {"bd_rate_error": missing, "bd_psnr_error": missing}
    result: dict[str, Any] = {}
    # separately: BD-rate needs overlapping PSNR, BD-PSNR overlapping rates
    for key, function in (("bd_rate", bd_rate), ("bd_psnr", bd_psnr)):
        try:
            result[key] = function(*zip(*a), *zip(*t))
        except ValueError as error:  # no overlap, too few points
            result[f"{key}_error"] = str(error)
    return result


def per_image_bd_rates(points: Sequence[Point], anchor: str, test: str) -> dict[str, Any]:
    """BD-rate (PSNR-RGB) image by image; images whose curves do not overlap are counted out."""
    images = sorted({p["image"] for p in points if p["codec"] == test})
    rates, failed = {}, []
    for image in images:
        curves = [
            average_curve([p for p in points if p["image"] == image], codec) for codec in (anchor, test)
        ]
        result = _bd(*curves, "psnr")
        if "bd_rate" in result:
            rates[image] = result["bd_rate"]
        else:
            failed.append(image)
    median = statistics.median(rates.values()) if rates else None
    return {"median_bd_rate": median, "bd_rate": rates, "no_overlap": failed}


def dominance(anchor: Curve, test: Curve) -> dict[str, float] | None:
    """When the anchor's lowest-rate point beats every test point on both axes (no BD-rate can
    be measured then), by how much: test's lowest rate / that rate, and that point's PSNR minus
    the test's highest PSNR. So the test needs >= rate_ratio x the bits for >= psnr_gap dB less."""
    low = min(anchor, key=lambda c: c["bpp"])
    test_bpp, test_psnr = min(c["bpp"] for c in test), max(c["psnr"] for c in test)
    if low["bpp"] > test_bpp or low["psnr"] < test_psnr:
        return None
    return {"rate_ratio": test_bpp / low["bpp"], "psnr_gap": low["psnr"] - test_psnr}


def excess_rate_by_setting(anchor: Curve, test: Curve) -> dict[str, float | None]:
    """Per setting of ``test``: its bits over the anchor's at the PSNR it reaches, in percent (the
    anchor's rate read off its frontier); None where the anchor's curve does not reach that PSNR.
    Where along the curve a BD-rate comes from: the BD integral averages these over the overlap."""
    front = frontier(anchor)
    excess: dict[str, float | None] = {str(c["setting"]): None for c in test}
    if len(front) < 2:
        return excess
    for c in test:
        at = rate_at_psnr(*zip(*front), c["psnr"])
        excess[str(c["setting"])] = None if at is None else (c["bpp"] / at - 1.0) * 100.0
    return excess


def compare(points: Sequence[Point], anchor: str, test: str) -> dict[str, Any]:
    """BD-rate / BD-PSNR of ``test`` against ``anchor``: average curves (PSNR-RGB and text PSNR)
    and per image, and setting by setting at equal PSNR; ``dominated`` when the anchor is better
    everywhere."""
    curves = {c: average_curve(points, c) for c in (anchor, test)}
    return {
        "anchor": anchor,
        "test": test,
        "psnr": _bd(curves[anchor], curves[test], "psnr"),
        "text_psnr": _bd(curves[anchor], curves[test], "text_psnr"),
        "dominated": dominance(curves[anchor], curves[test]),
        "excess_rate_by_setting": excess_rate_by_setting(curves[anchor], curves[test]),
        "per_image": per_image_bd_rates(points, anchor, test),
    }


def curve_summary(curve: Curve) -> dict[str, Any]:
    """Ranges of a curve and its PSNR read off at ``REPORT_RATES``."""
    rates, psnrs = [c["bpp"] for c in curve], [c["psnr"] for c in curve]
    front = frontier(curve)
    if len(front) >= 2:
        at = {f"{r:g}": psnr_at_rate(*zip(*front), r) for r in REPORT_RATES}
    else:
        at = {f"{r:g}": None for r in REPORT_RATES}
    return {
        "bpp": [min(rates), max(rates)],
        "psnr": [min(psnrs), max(psnrs)],
        "psnr_at_bpp": at,
        "encode_ms": _mean([c["encode_ms"] for c in curve]),
        "decode_ms": _mean([c["decode_ms"] for c in curve]),
    }


# ---------------------------------------------------------------- report
def code_version() -> dict[str, Any]:
    """The commit the codec code came from, and whether its files differed from it."""
    changed = git("status", "--porcelain", "--", "screen_codec", "training", "bench")
    return {"git_commit": git("rev-parse", "HEAD"), "changed_files": changed.splitlines()}


def host_info(threads: int) -> dict[str, Any]:
    return {
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "threads": threads,
        "load_average_start": os.getloadavg(),
    }


def _fmt(value: float | None, digits: int = 2, signed: bool = False) -> str:
    if value is None:
        return "n/a"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def _bd_cell(comparison: dict[str, Any], key: str, unit: str, metric: str = "psnr") -> str:
    result = comparison[metric]
    if key in result:
        return f"{result[key]:+.1f}{unit}" if unit == " %" else f"{result[key]:+.2f}{unit}"
    if "overlap" not in result[f"{key}_error"]:
        return "n/a"
    worse = comparison["dominated"]
    if key == "bd_rate" and metric == "psnr" and worse:
        return f"no overlap: >= {worse['rate_ratio']:.1f}x bits at >= {worse['psnr_gap']:.1f} dB less"
    return "no overlap"


def _excess_rate_table(comparisons: Sequence[dict[str, Any]]) -> list[str]:
    """Each comparison's bits over its anchor at the PSNR of each test setting."""
    settings = sorted({s for c in comparisons for s in c["excess_rate_by_setting"]}, key=int)
    lines = [
        "",
        "| test | anchor | bits over the anchor at equal PSNR: setting " + " | ".join(settings) + " |",
        "|---|---|" + "---|" * len(settings),
    ]
    for c in comparisons:
        excess = c["excess_rate_by_setting"]
        cells = [f"{excess[s]:+.1f} %" if excess.get(s) is not None else "n/a" for s in settings]
        lines.append(f"| {c['test']} | {c['anchor']} | {' | '.join(cells)} |")
    return lines


def markdown(report: dict[str, Any]) -> str:
    """The report's tables: codecs alone, our variants against them, and every average curve."""
    lines: list[str] = []
    summaries = report["summaries"]
    rates_header = " | ".join(f"PSNR @{r:g} bpp" for r in REPORT_RATES)
    bar_columns = bool(report["against_anchor"])  # classical codecs were run, with the anchor
    bar_header = f" BD-rate vs {ANCHOR} | BD-PSNR vs {ANCHOR} |" if bar_columns else ""
    lines += [
        f"| codec | bpp range | PSNR range (dB) | {rates_header} |{bar_header} enc ms | dec ms |",
        "|---|---|---|" + "---|" * len(REPORT_RATES) + "---|---|" * (1 + bar_columns),
    ]
    for codec, s in summaries.items():
        bar = report["against_anchor"].get(codec)
        if bar:
            bd = f" {_bd_cell(bar, 'bd_rate', ' %')} | {_bd_cell(bar, 'bd_psnr', ' dB')} |"
        else:
            bd = (" anchor | anchor |" if codec == ANCHOR else "  |  |") if bar_columns else ""
        at = " | ".join(_fmt(s["psnr_at_bpp"][f"{r:g}"]) for r in REPORT_RATES)
        lines.append(
            f"| {codec} | {s['bpp'][0]:.3f}-{s['bpp'][1]:.3f} | {s['psnr'][0]:.2f}-{s['psnr'][1]:.2f} "
            f"| {at} |{bd} {_fmt(s['encode_ms'], 0)} | {_fmt(s['decode_ms'], 0)} |"
        )
    if report["comparisons"]:
        lines += [
            "",
            "| test | anchor | BD-rate (PSNR-RGB) | BD-PSNR | BD-rate (text PSNR) | per-image median BD-rate "
            "(images with overlap) | images better |",
            "|---|---|---|---|---|---|---|",
        ]
        for c in report["comparisons"]:
            per = c["per_image"]
            n_ok = len(per["bd_rate"])
            n = n_ok + len(per["no_overlap"])
            median = f"{per['median_bd_rate']:+.1f} % ({n_ok}/{n})" if n_ok else f"no overlap (0/{n})"
            better = sum(rate < 0 for rate in per["bd_rate"].values())
            lines.append(
                f"| {c['test']} | {c['anchor']} | {_bd_cell(c, 'bd_rate', ' %')} "
                f"| {_bd_cell(c, 'bd_psnr', ' dB')} | {_bd_cell(c, 'bd_rate', ' %', 'text_psnr')} "
                f"| {median} | {better} of {n_ok} |"
            )
        lines += _excess_rate_table(report["comparisons"])
    lines += [
        "",
        "| codec | setting | bpp | PSNR-RGB (dB) | text PSNR (dB) | enc ms | dec ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for codec, curve in report["curves"].items():
        for c in curve:
            lines.append(
                f"| {codec} | {c['setting']} | {c['bpp']:.4f} | {c['psnr']:.2f} | {_fmt(c['text_psnr'])} "
                f"| {c['encode_ms']:.0f} | {c['decode_ms']:.0f} |"
            )
    return "\n".join(lines) + "\n"


def build_report(
    args: argparse.Namespace,
    provenance: dict[str, Any],
    images: Sequence[BenchImage],
    variants: Sequence[Variant],
    points: list[Point],
) -> dict[str, Any]:
    codecs = [] if args.ablation else list(args.codecs)
    labels = codecs + [v.label for v in variants]
    curves = {label: average_curve(points, label) for label in labels}
    comparisons = [compare(points, variants[0].label, v.label) for v in variants[1:]]
    comparisons += [compare(points, c, v.label) for v in variants for c in codecs]
    against_anchor = (
        {c: compare(points, ANCHOR, c) for c in codecs if c != ANCHOR} if ANCHOR in codecs else {}
    )
    return {
        "meta": {
            "command": " ".join([Path(sys.executable).name, *sys.argv]),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            **provenance,
            "threads": args.threads,
            "libraries": classical.library_versions(),
            "codec_labels": {c: classical.CODECS[c].label for c in codecs},
            "images": [
                {"name": i.name, "path": i.path, "width": i.rgb.shape[1], "height": i.rgb.shape[0],
                 "sha256": i.sha256, "text_mask": i.mask_source}
                for i in images
            ],
            "variants": [
                {"label": v.label, "checkpoint": v.checkpoint, "detector": v.detector,
                 "rounding_threshold_bits": v.rounding_threshold_bits, **v.info}
                for v in variants
            ],
            "ablation": args.ablation,
            "tile_size": args.tile_size,
        },
        "curves": curves,
        "summaries": {label: curve_summary(curve) for label, curve in curves.items()},
        "comparisons": comparisons,
        "against_anchor": against_anchor,
        "points": points,
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", nargs="+", required=True,
                        help="folders, image files, list files, or a data manifest.json")
    parser.add_argument("--split", default="test", help="split to take from a manifest.json")
    parser.add_argument("--checkpoint", action="append", required=True,
                        help="compact checkpoint, run dir with compact.pt, or untrained:<config>; repeatable")
    parser.add_argument("--detector", action="append", choices=("dbnet", "morph", "craft", "none", "gt"),
                        help="text mask fed to our encoder; repeatable (default dbnet)")
    parser.add_argument("--rounding-threshold-bits", type=float, action="append",
                        help="our encoder's rate-aware rounding threshold (inf: nearest integers); repeatable "
                        f"(default {RATE_AWARE_ROUNDING_BITS:g}, the service's)")
    parser.add_argument("--codecs", nargs="+", default=list(classical.CODECS), choices=list(classical.CODECS))
    parser.add_argument("--ablation", action="store_true",
                        help="no classical codecs, only every variant against the first")
    parser.add_argument("--out", type=Path, required=True, help="result JSON (bench/results/<name>.json)")
    parser.add_argument("--markdown", action="store_true", help="print the tables and write <out>.md")
    parser.add_argument("--reuse", type=Path, action="append", default=[],
                        help="earlier result JSON to take the points this run shares with it from (repeatable)")
    parser.add_argument("--threads", type=int, default=1, help="torch, BLAS and codec threads")
    parser.add_argument("--tile-size", type=int, default=0, help="our codec's tile size (0: one tile)")
    parser.add_argument("--seed", type=int, default=0, help="seed of untrained:<config> models")
    args = parser.parse_args(argv)
    args.detector = args.detector or ["dbnet"]
    args.rounding_threshold_bits = args.rounding_threshold_bits or [RATE_AWARE_ROUNDING_BITS]
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    threadpoolctl.threadpool_limits(args.threads, user_api="blas")  # the integer entropy path
    host = host_info(args.threads)
    code = code_version()  # at the start: the code this run imported
    images = load_images(args.images, args.split)
    variants = distinct_labels(
        [
            load_variant(c, d, args.seed, r)
            for c in args.checkpoint for d in args.detector for r in args.rounding_threshold_bits
        ]
    )
    if args.ablation and len(variants) < 2:
        raise SystemExit("--ablation needs at least two variants (checkpoints x detectors x roundings)")
    reuse = reusable_points(args.reuse, classical.library_versions(), args.threads, args.tile_size, code)
    points: list[Point] = []
    if not args.ablation:
        points += run_classical(args.codecs, images, args.threads, reuse)
    for variant in variants:
        points += run_variant(variant, images, args.tile_size, reuse)
    host["load_average_end"] = os.getloadavg()
    report = build_report(args, {"host": host, "code": code}, images, variants, points)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    text = markdown(report)
    if args.markdown:
        args.out.with_suffix(".md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
