"""The trainer: optimisation, exact resume, compact checkpoints, and the CLI end to end.

A tiny model (cpu_smoke.yaml's overrides) on 64x64 crops keeps the whole file well under a minute
on two busy cores.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from screen_codec.models import build_model
from training import checkpoint as ckpt
from training.provenance import cpu_name, git
from training.train import (
    REPO,
    CosineSchedule,
    StepBatches,
    TrainConfig,
    ENCODER_PARTS,
    Trainer,
    bf16_is_native,
    quality_probabilities,
    sample_qualities,
    uses_bf16,
)

SMOKE = REPO / "training" / "configs" / "cpu_smoke.yaml"


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # identical reductions run to run, and fair to a busy machine
    yield
    torch.set_num_threads(threads)


def smoke_config(**changes) -> TrainConfig:
    return dataclasses.replace(TrainConfig.load(SMOKE), **changes)


def test_a_config_extends_another_and_replaces_only_the_keys_it_names(tmp_path: Path) -> None:
    base = TrainConfig.load(SMOKE)
    (tmp_path / "base.yaml").write_text(SMOKE.read_text())
    (tmp_path / "phase.yaml").write_text("extends: base.yaml\nname: phase\nsteps: 99\nseed: 7\n")
    phase = TrainConfig.load(tmp_path / "phase.yaml")
    assert (phase.name, phase.steps, phase.seed) == ("phase", 99, 7)
    assert phase == dataclasses.replace(base, name="phase", steps=99, seed=7)


@pytest.mark.parametrize(
    "precision, compiled",
    [("none", False), ("bf16", False), pytest.param("bf16", True, marks=pytest.mark.slow)],  # compiling takes minutes
)
def test_steps_lower_the_loss_on_a_fixed_batch(tmp_path: Path, precision: str, compiled: bool) -> None:
    config = smoke_config(lr=1e-3, steps=1000, mixed_precision=precision, compile=compiled)
    trainer = Trainer(config, tmp_path, torch.device("cpu"))
    x, mask = next(trainer.batches)
    trainer.batches = itertools.repeat((x, mask))
    quality = torch.tensor([2, 4])

    def loss() -> float:
        torch.manual_seed(0)  # the same quantisation noise for both measurements
        with torch.no_grad():
            out = trainer.model(x, mask, quality)
            return float(trainer.criterion(out, x, mask, trainer.lambdas[quality - 1])["loss"])

    with trainer.autocast:  # bf16 autocast really engages on the CPU
        x_hat = trainer.model(x, mask, quality)["x_hat"]
    assert x_hat.dtype == (torch.bfloat16 if precision == "bf16" else torch.float32)

    before = loss()
    for _ in range(16):
        trainer.train_step()
    assert loss() < 0.5 * before
    assert isinstance(trainer.network, torch._dynamo.eval_frame.OptimizedModule) == compiled


def test_auto_precision_picks_bf16_only_where_the_cpu_has_bf16_instructions() -> None:
    cpu = torch.device("cpu")
    cascade_lake = frozenset({"avx2", "avx512f", "avx512bw", "avx512_vnni"})
    assert not bf16_is_native(cpu, cascade_lake)  # emulated: slower than fp32
    assert bf16_is_native(cpu, cascade_lake | {"avx512_bf16"})  # Cooper Lake, Zen 4
    assert bf16_is_native(cpu, cascade_lake | {"avx512_bf16", "amx_bf16"})  # Sapphire Rapids
    assert uses_bf16("bf16", cpu) and not uses_bf16("none", cpu)  # explicit choices are kept
    with pytest.raises(ValueError, match="mixed_precision"):
        uses_bf16("fp16", cpu)


def test_ste_rate_is_the_coders_rate_and_trains_the_analysis(tmp_path: Path) -> None:
    trainer = Trainer(smoke_config(rate_quantisation="ste"), tmp_path, torch.device("cpu"))
    slices = trainer.model.slices
    assert slices.rate_quantisation == "ste"
    channels = trainer.model.config.M
    torch.manual_seed(0)
    y = (3 * torch.randn(2, channels, 4, 4)).requires_grad_()
    means, scales = torch.randn(2, channels, 4, 4), torch.rand(2, channels, 4, 4) + 0.1

    slices.eval()
    coded = slices(y, means, scales)[1].detach()
    slices.train()
    trained = slices(y, means, scales)[1]
    assert torch.equal(trained, coded)  # training prices the rounded residuals, as the coder does
    # Slice 0's moments do not depend on y: its rate reaches y_0 only through the straight-through
    # rounding (CompressAI's GaussianConditional would round again and pass no gradient).
    first = slice(0, slices.slice_ch)
    (-torch.log2(trained[:, first])).sum().backward()
    assert y.grad[:, first].abs().sum() > 0

    slices.rate_quantisation = "noise"
    assert not torch.equal(slices(y, means, scales)[1], coded)
    with pytest.raises(ValueError, match="rate_quantisation"):
        Trainer(smoke_config(rate_quantisation="hard"), tmp_path, torch.device("cpu"))


def test_resume_repeats_the_next_step_exactly(tmp_path: Path) -> None:
    config = smoke_config(steps=2, validation=dataclasses.replace(smoke_config().validation, interval=0))
    first = Trainer(config, tmp_path, torch.device("cpu"))
    assert first.fit() == 2
    expected = first.train_step()

    # A run stopped after its last checkpoint logged steps that the resumed run replays: dropped.
    logged = (tmp_path / "train.csv").read_text()
    last_row = logged.splitlines()[-1]
    assert last_row.startswith("2,")
    with open(tmp_path / "train.csv", "a") as handle:
        handle.write("3," + last_row.removeprefix("2,") + "\n")
    resumed = Trainer(config, tmp_path, torch.device("cpu"), resume=tmp_path / "last.pt")
    assert resumed.step == 2
    assert (tmp_path / "train.csv").read_text() == logged
    assert resumed.train_step() == expected

    # A compact checkpoint keeps the step (and so the schedule) but restarts the optimizers.
    compact = Trainer(config, tmp_path, torch.device("cpu"), resume=tmp_path / "compact.pt")
    assert compact.step == 2 and compact.schedule.restart_step == 2
    assert not compact.optimizer.state
    full = ckpt.load_training_state(tmp_path / "last.pt")["model"]
    for name, tensor in ckpt.learned_state(compact.model).items():
        rounded = full[name].half().float() if full[name].ndim == 4 else full[name]
        assert torch.equal(tensor, rounded), name


def test_weight_average_is_the_ema_of_the_steps_and_resumes_with_the_run(tmp_path: Path) -> None:
    """ema_decay keeps w_ema <- d w_ema + (1 - d) w after every step (the first copies w), carries it
    in last.pt, and writes it as compact_ema.pt under its own train_config (benchmarks keep the two
    apart); the trained weights in compact.pt are the same as without it."""
    decay = 0.5
    config = smoke_config(steps=3, ema_decay=decay, validation=dataclasses.replace(smoke_config().validation, interval=0))
    trainer = Trainer(config, tmp_path / "ema", torch.device("cpu"))
    expected: dict[str, torch.Tensor] = {}
    for step in range(3):
        trainer.train_step()
        weights = {n: p.detach().clone() for n, p in trainer.model.named_parameters()}
        expected = weights if step == 0 else {n: decay * expected[n] + (1 - decay) * w for n, w in weights.items()}
    averaged = dict(trainer.ema.module.named_parameters())
    for name, value in expected.items():
        torch.testing.assert_close(averaged[name], value, rtol=0, atol=1e-6, msg=name)
    assert any(not torch.equal(averaged[n], p) for n, p in trainer.model.named_parameters())
    trainer.save()

    plain = Trainer(dataclasses.replace(config, ema_decay=None), tmp_path / "plain", torch.device("cpu"))
    assert plain.fit() == 3 and not (tmp_path / "plain" / "compact_ema.pt").exists()
    trained = ckpt.read_compact(tmp_path / "ema" / "compact.pt")
    assert all(torch.equal(v, ckpt.read_compact(tmp_path / "plain" / "compact.pt")["state"][k])
               for k, v in trained["state"].items())
    ema = ckpt.read_compact(tmp_path / "ema" / "compact_ema.pt")
    assert ema["metadata"]["train_config"] == f"{config.name}.ema" and ema["metadata"]["ema_decay"] == decay
    for name, value in expected.items():
        torch.testing.assert_close(ema["state"][name].float(), value, rtol=1e-3, atol=1e-3, msg=name)

    resumed = Trainer(config, tmp_path / "ema", torch.device("cpu"), resume=tmp_path / "ema" / "last.pt")
    assert int(resumed.ema.n_averaged) == 3
    for name, value in expected.items():
        torch.testing.assert_close(dict(resumed.ema.module.named_parameters())[name], value, rtol=0, atol=1e-6, msg=name)


def test_a_cycle_continues_a_checkpoint_past_the_configured_steps(tmp_path: Path) -> None:
    """A GPU session continuing the default (step > steps) trains its cycle instead of stopping."""
    config = smoke_config(steps=2, validation=dataclasses.replace(smoke_config().validation, interval=0))
    assert Trainer(config, tmp_path / "first", torch.device("cpu")).fit() == 2
    assert Trainer(config, tmp_path / "again", torch.device("cpu"), resume=tmp_path / "first" / "compact.pt").fit() == 2

    cycled = Trainer(dataclasses.replace(config, cycle_steps=3), tmp_path / "cycle", torch.device("cpu"),
                     resume=tmp_path / "first" / "compact.pt")
    assert cycled.fit() == 5
    rows = (tmp_path / "cycle" / "train.csv").read_text().splitlines()
    assert rows[-1].startswith("5,")

    # Another run's full state starts the new phase's cycle with Adam kept; the same run's continues.
    phase = dataclasses.replace(config, name="next_phase", cycle_steps=3)
    following = Trainer(phase, tmp_path / "next", torch.device("cpu"), resume=tmp_path / "first" / "last.pt")
    assert following.optimizer.state and following.schedule.restart_step == 2
    assert following.fit() == 5
    resumed = Trainer(phase, tmp_path / "next", torch.device("cpu"), resume=tmp_path / "next" / "last.pt")
    assert resumed.step == 5 and resumed.schedule.restart_step == 2 and resumed.fit() == 5


def test_a_trained_model_fine_tunes_with_equivariant_entropy_switched_on(tmp_path: Path) -> None:
    """The switch changes how the weights are used, not which: a full checkpoint resumes into it with
    its optimizer state when the run's config asks for it, and only then."""
    config = smoke_config(steps=2, validation=dataclasses.replace(smoke_config().validation, interval=0))
    assert Trainer(config, tmp_path / "plain", torch.device("cpu")).fit() == 2
    plain_checkpoint = tmp_path / "plain" / "last.pt"
    with pytest.raises((KeyError, RuntimeError)):  # an override that changes shapes still fails
        Trainer(smoke_config(model_overrides={**config.model_overrides, "num_slices": 10}),
                tmp_path / "x", torch.device("cpu"), resume=plain_checkpoint)

    switched = smoke_config(steps=4, model_overrides={**config.model_overrides, "equivariant_entropy": True})
    trainer = Trainer(switched, tmp_path / "equivariant", torch.device("cpu"), resume=plain_checkpoint)
    assert trainer.step == 2 and trainer.optimizer.state and trainer.model.config.equivariant_entropy
    assert trainer.fit(stop_at=3) == 3  # cut early (--stop-at), as an A/B arm is, and saved there
    assert ckpt.load_training_state(tmp_path / "equivariant" / "last.pt")["step"] == 3
    assert trainer.fit() == 4
    losses = [float(row.split(",")[1]) for row in (tmp_path / "equivariant" / "train.csv").read_text().splitlines()[1:]]
    assert losses and all(np.isfinite(losses))
    saved = ckpt.load_training_state(tmp_path / "equivariant" / "last.pt")
    assert json.loads(saved["model_config"])["equivariant_entropy"] is True
    with pytest.raises(ValueError, match="different model configuration"):  # not without the switch
        Trainer(config, tmp_path / "y", torch.device("cpu"), resume=tmp_path / "equivariant" / "last.pt")


def test_compact_checkpoint_splits_and_reloads(tmp_path: Path) -> None:
    model = build_model("compact")  # the bundled default: one file under the 16 MiB limit
    assert [f.stat().st_size <= ckpt.PART_BYTES for f in ckpt.save_compact(tmp_path / "one.pt", model, {})] == [True]
    files = ckpt.save_compact(tmp_path / "compact.pt", model, {"step": 7}, part_bytes=4 * 2**20)
    assert len(files) >= 3 and all(f.stat().st_size <= 4 * 2**20 for f in files)
    reloaded, metadata = ckpt.load_compact(tmp_path / "compact.pt")
    assert metadata == {"step": 7}
    expected = ckpt.compact_state(model)
    for name, tensor in ckpt.learned_state(reloaded).items():
        assert torch.equal(tensor, expected[name].float()), name

    # A stale split must not survive a smaller rewrite, and a missing part is an error.
    tiny = build_model("compact", N=16, M=40, Z=16, slice_hidden=(16, 16, 16, 16), prior_ch=8)
    assert ckpt.save_compact(tmp_path / "compact.pt", tiny, {"step": 8}) == [tmp_path / "compact.pt"]
    assert ckpt.load_compact(tmp_path / "compact.pt")[1] == {"step": 8}
    parts = ckpt.save_compact(tmp_path / "split.pt", tiny, {}, part_bytes=2**18)
    parts[1].unlink()
    with pytest.raises(FileNotFoundError, match="missing parts"):
        ckpt.load_compact(tmp_path / "split.pt")


def test_schedule_and_batches_are_functions_of_the_step() -> None:
    schedule = CosineSchedule(lr=1e-4, lr_min=2.7e-6, steps=1000, warmup=10)
    assert schedule.at(0) == pytest.approx(1e-5)
    assert schedule.at(500) == pytest.approx((1e-4 + 2.7e-6) / 2)
    assert schedule.at(1000) == pytest.approx(2.7e-6) and schedule.at(5000) == pytest.approx(2.7e-6)
    # A warm restart of 2000 steps from wherever the checkpoint stood (past ``steps`` here).
    cycle = CosineSchedule(lr=1e-4, lr_min=2.7e-6, steps=1000, warmup=10, restart_step=188755, cycle=2000)
    assert cycle.end == 190755
    assert cycle.at(188755 + 9) == pytest.approx(1e-4, rel=1e-3)
    assert cycle.at(189755) == pytest.approx((1e-4 + 2.7e-6) / 2) and cycle.at(190755) == pytest.approx(2.7e-6)

    data = smoke_config().data
    batches = StepBatches(data, batch=3, seed=5, rank=0)
    x, mask = batches[7]
    assert x.shape == (3, 3, 64, 64) and mask.shape == (3, 1, 64, 64)
    again, _ = StepBatches(data, batch=3, seed=5, rank=0)[7]
    assert torch.equal(x, again)  # a fresh object (another worker, a resumed run) agrees
    assert not torch.equal(x, batches[8][0]) and not torch.equal(x, StepBatches(data, 3, 5, 1)[7][0])


@pytest.mark.parametrize("weights", [None, [0.0, 1.0, 1.0, 2.0, 4.0]])
def test_quality_levels_are_functions_of_the_step_drawn_with_their_weights(weights) -> None:
    probabilities = quality_probabilities(5, weights)
    draws = torch.cat([sample_qualities(3, step, 0, 64, 5, probabilities) for step in range(200)])
    assert torch.equal(draws[:64], sample_qualities(3, 0, 0, 64, 5, probabilities))  # a resumed run agrees
    assert not torch.equal(draws[:64], sample_qualities(3, 0, 1, 64, 5, probabilities))  # ranks differ
    shares = torch.bincount(draws, minlength=6)[1:].double() / draws.numel()
    expected = torch.tensor([1.0] * 5 if weights is None else weights, dtype=torch.float64)
    assert torch.allclose(shares, expected / expected.sum(), atol=0.015)  # 12,800 draws: sd <= 0.004


def test_the_encoder_trains_alone_and_every_decoder_parameter_stays_bit_identical(tmp_path: Path) -> None:
    trainer = Trainer(smoke_config(trained_parts=ENCODER_PARTS), tmp_path, torch.device("cpu"))
    before = {name: p.detach().clone() for name, p in trainer.model.named_parameters()}
    for _ in range(2):
        trainer.train_step()
    after = dict(trainer.model.named_parameters())
    moved = {name for name in before if not torch.equal(before[name], after[name])}
    encoder = {name for name in before if any(name.startswith(part) for part in ENCODER_PARTS)}
    assert moved and moved <= encoder  # no decoder network, gain or quantile moved
    assert {"gains.log_gain", "gains.log_hyper_gain"} <= moved
    assert any(name.startswith("analysis.") for name in moved) and any(name.startswith("hyper_analysis.") for name in moved)
    with pytest.raises(ValueError, match="trained_parts"):
        Trainer(smoke_config(trained_parts=["analysis.", "synthesys."]), tmp_path, torch.device("cpu"))


def test_a_trainer_refuses_quality_weights_that_do_not_fit_its_levels(tmp_path: Path) -> None:
    for weights in ([1.0, 1.0], [1.0, -1.0, 1.0, 1.0, 1.0], [0.0] * 5):
        with pytest.raises(ValueError, match="quality_weights"):
            Trainer(smoke_config(quality_weights=weights), tmp_path, torch.device("cpu"))


def test_cli_runs_the_smoke_config_end_to_end(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "training.train", "--config", str(SMOKE)]
    command += ["--out", str(tmp_path), "--threads", "1", "--device", "cpu"]
    subprocess.run(command, cwd=REPO, check=True, capture_output=True, timeout=120)
    train_rows = (tmp_path / "train.csv").read_text().splitlines()
    assert train_rows[0] == "step,loss,bpp,psnr,text_psnr,aux_loss,lr,it_s" and len(train_rows) == 7
    assert len((tmp_path / "val.csv").read_text().splitlines()) == 1 + 2 * 5  # 2 evals x 5 levels
    for name in ("config.yaml", "run_info.json", "last.pt"):
        assert (tmp_path / name).is_file()
    info = json.loads((tmp_path / "run_info.json").read_text())
    assert info["device"] == f"cpu {cpu_name()} x{os.cpu_count()}"  # the CPU model, not just "x86_64"
    assert info["git_commit"] == git("rev-parse", "HEAD") and info["argv"][1:3] == ["--config", str(SMOKE)]
    model, metadata = ckpt.load_compact(tmp_path / "compact.pt")
    assert metadata["step"] == 6 and model.config.M == 40


def test_a_single_lambda_trains_a_fixed_rate_model_that_codes(tmp_path: Path) -> None:
    """One model per lambda (the rate ablation's other side): one quality level, a real stream."""
    from screen_codec.codec import decode_image, encode_image
    from screen_codec.models.torch_networks import TorchNetworks

    overrides = {**smoke_config().model_overrides, "lambdas": [0.0067]}
    config = smoke_config(model_overrides=overrides, steps=3)  # validation at step 3
    trainer = Trainer(config, tmp_path, torch.device("cpu"))
    assert trainer.fit() == 3
    rows = (tmp_path / "val.csv").read_text().splitlines()
    assert [row.split(",")[1:3] for row in rows[1:]] == [["1", "0.0067"]]

    model, _ = ckpt.load_compact(tmp_path / "compact.pt")
    networks = TorchNetworks(model.eval())
    assert networks.num_qualities == 1
    image = np.random.default_rng(0).integers(0, 256, (64, 96, 3), dtype=np.uint8)
    mask = np.zeros(image.shape[:2], dtype=np.uint8)
    stream = encode_image(networks, image, mask, 1)
    assert decode_image(networks, stream).shape == image.shape
    with pytest.raises(ValueError):
        encode_image(networks, image, mask, 2)


def test_unrounded_latents_bound_every_quality_level_of_the_default_model() -> None:
    """The transforms' ceiling (bench/gain_extrapolation.py's last row) is the limit of finer
    quantisation: on a real rendered screen the default model's unrounded latents reconstruct at
    least as well as its top quality level, which is itself better than its lowest."""
    from training.data.synthetic import render_screen
    from training.evaluate import rate_distortion, unquantised_psnr

    model, _ = ckpt.load_compact(Path(__file__).resolve().parents[1] / "models" / "default" / "compact.pt")
    screen = render_screen(7, 320, 192, "terminal")
    screens = [(screen.rgb, screen.text_mask)]
    rows = rate_distortion(model, screens, torch.device("cpu"))
    top = model.config.num_qualities
    ceiling = unquantised_psnr(model, screens, torch.device("cpu"), top)
    assert rows[0]["psnr"] < rows[-1]["psnr"] <= ceiling


def test_a_compact_checkpoint_resumes_with_quality_levels_added_above_and_below(tmp_path: Path) -> None:
    """New levels (lambdas) around the trained ones start on the log-linear extrapolation of the
    trained gain rows, the trained rows load unchanged, and the widened model trains; levels that
    are not the trained ones plus additions are refused."""
    config = smoke_config(steps=2, validation=dataclasses.replace(smoke_config().validation, interval=0))
    trainer = Trainer(config, tmp_path / "base", torch.device("cpu"))
    assert trainer.fit() == 2
    trained = trainer.model.config.lambdas
    base = trainer.model.gains.log_gain.detach().clone()

    wider = (trained[0] / 2, *trained, trained[-1] * 2, trained[-1] * 4)
    run = smoke_config(steps=3, model_overrides={**config.model_overrides, "lambdas": wider})
    widened = Trainer(run, tmp_path / "wide", torch.device("cpu"), resume=tmp_path / "base" / "compact.pt")
    log_gain = widened.model.gains.log_gain.detach()
    assert log_gain.shape[0] == len(trained) + 3 and torch.equal(log_gain[1:-2], base)
    step = base[-1] - base[-2]
    assert torch.allclose(log_gain[-2:], torch.stack([base[-1] + step, base[-1] + 2 * step]))
    assert torch.allclose(log_gain[0], base[0] - (base[1] - base[0]))
    assert widened.fit() == 3

    shuffled = smoke_config(model_overrides={**config.model_overrides, "lambdas": (*trained[1:], trained[0])})
    with pytest.raises(ValueError, match="do not contain the trained levels"):
        Trainer(shuffled, tmp_path / "bad", torch.device("cpu"), resume=tmp_path / "base" / "compact.pt")
