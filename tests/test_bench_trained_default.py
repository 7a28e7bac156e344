"""Bench tools on the trained default. bench/amortisation_gap.py: optimised latents beat the
encoder's for the fixed decoder, in the unrounded reconstruction and in the true (rounded)
rate-distortion loss. bench/likelihood_ab.py: a model against itself is a tie."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from bench.amortisation_gap import measure
from training.checkpoint import load_compact
from training.data.synthetic import render_screen

DEFAULT_CHECKPOINT = Path(__file__).resolve().parents[1] / "models" / "default" / "compact.pt"


def test_latents_optimised_for_the_fixed_decoder_beat_the_encoders() -> None:
    torch.manual_seed(0)
    model, _ = load_compact(DEFAULT_CHECKPOINT)
    model.eval().requires_grad_(False)
    screen = render_screen(7, 64, 64, "terminal")
    gaps = measure(model, "terminal", screen.rgb, screen.text_mask, [1, 5], ["ceiling", "rd"], 10, 0.01)
    assert [(gap.quality, gap.mode) for gap in gaps] == [(1, "ceiling"), (1, "rd"), (5, "ceiling"), (5, "rd")]
    for gap in gaps:
        assert gap.optimised.psnr > gap.encoder.psnr
        if gap.mode == "rd":  # the rate of both is priced: the true loss fell
            lmbda = model.config.lambdas[gap.quality - 1]
            loss = [p.bpp + lmbda * 255**2 * 10 ** (-p.psnr / 10) for p in (gap.encoder, gap.optimised)]
            assert loss[1] < loss[0]
    assert all(param.grad is None for param in model.parameters())  # the decoder was never trained


def test_the_likelihood_ab_finds_no_difference_between_a_model_and_itself(tmp_path: Path, capsys) -> None:
    from PIL import Image

    from bench import likelihood_ab

    (tmp_path / "images").mkdir()
    Image.fromarray(render_screen(3, 128, 128, "spreadsheet").rgb).save(tmp_path / "images" / "screen.png")
    likelihood_ab.main(["--a", str(DEFAULT_CHECKPOINT), "--b", str(DEFAULT_CHECKPOINT), "--images",
                        str(tmp_path / "images"), "--detector", "none", "--json", str(tmp_path / "ab.json")])
    (row,) = json.loads((tmp_path / "ab.json").read_text())["images"]
    assert row["a"] == row["b"] and row["a"][0][0] < row["a"][0][-1]  # five levels, rising rate
    assert row["bd_rate_percent"] == pytest.approx(0.0, abs=1e-9)
    assert "1 images" in capsys.readouterr().out
