"""model_export: ONNX graphs, manifest and the parity check, on a small seeded model.

The model is a narrow variant of the compact configuration, untrained but with its latent gains
raised (x12) so that y carries many non-zero symbols: bit-exactness does not depend on training.
`exported()` exports it once per test session (test_runtime.py uses the same directory).
"""

from __future__ import annotations

import atexit
import functools
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from model_export import export as ex
from model_export import parity
from screen_codec.models import build_model
from screen_codec.models.torch_networks import entropy_tables, model_id


def tiny_model(seed: int = 0, **overrides: object):
    torch.manual_seed(seed)
    model = build_model("compact", N=32, M=80, Z=48, prior_ch=16, slice_hidden=(32, 32, 16, 16), **overrides)
    with torch.no_grad():
        model.gains.log_gain += 2.5
        model.gains.log_inverse_gain -= 2.5
    return model.eval()


@functools.lru_cache(maxsize=None)
def exported() -> tuple[object, Path, dict]:
    """(model, model_dir, manifest) of the tiny model, exported once per session."""
    root = Path(tempfile.mkdtemp(prefix="export_test_"))
    atexit.register(shutil.rmtree, root, True)
    model = tiny_model()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the test host has 2 shared cores; restored for the other tests
    try:
        manifest = ex.export_model(
            model,
            root / "model",
            detector="morph",
            trained=False,
            fp16_synthesis=True,
            parity_images=("random", "page"),
            parity_size=96,
        )
    finally:
        torch.set_num_threads(threads)
    return model, root / "model", manifest


def test_parity_ran_and_found_equal_latents():
    _, _, manifest = exported()
    images = manifest["parity"]["images"]
    assert set(images) == {"random@q1", "random@q5", "page@q1", "page@q5"}
    for name, report in images.items():
        decisions = report["networks"]["decisions"]
        assert decisions["symbols"] > 0 and decisions["symbol_unexplained"] == 0, name
        assert report["networks"]["entropy_path_identical"], name
        assert max(report["networks"]["max_relative_diff"].values()) < 1e-4, name
        if decisions["symbol_ambiguous"] == 0:  # g_a's float output sat on a .5 otherwise
            assert report["latents"]["z_equal"] and report["latents"]["y_symbols_differing"] == 0, name
            assert report["latents"]["streams_equal"], name
        assert report["torch_stream_in_onnx"]["ok"] and report["onnx_stream_in_torch"]["ok"], name
        assert report["psnr_gap_db"] < 0.01, name
    half = manifest["parity"]["fp16_synthesis"]["images"]
    assert set(half) == set(images) and all(r["gap_db"] < 0.1 for r in half.values())


def test_manifest_describes_the_model_and_hashes_every_file():
    model, model_dir, manifest = exported()
    on_disk = json.loads((model_dir / "manifest.json").read_text())
    assert on_disk == json.loads(json.dumps(manifest))
    assert manifest["format"] == "screen_codec.model" and manifest["format_version"] == 1
    assert manifest["model_id"] == model_id(model).hex()
    assert manifest["trained"] is False and "UNTRAINED" in manifest["status"]
    assert manifest["config"]["M"] == 80
    assert [q["lambda"] for q in manifest["qualities"]] == list(model.config.lambdas)
    assert manifest["default_quality"] == 3
    graphs = {"analysis.onnx", "synthesis.onnx", "synthesis_fp16.onnx"}
    assert graphs == {p.name for p in model_dir.glob("*.onnx")}
    references = {"reference_q1.scic", "reference_q5.scic"}  # tests/test_reference_streams.py
    assert set(manifest["files"]) == graphs | {"entropy_parameters.npz"} | references
    for name, entry in manifest["files"].items():
        assert entry["sha256"] == ex.sha256_file(model_dir / name)
    tables = entropy_tables(model).to_dict()
    assert manifest["entropy_tables"] == json.loads(json.dumps(tables))
    assert manifest["entropy_tables_sha256"] == ex.tables_digest(tables)
    assert manifest["text_detector"]["name"] == "morph"
    assert manifest["exported_with"]["torch"] == torch.__version__
    assert manifest["exported_with"]["onnx"] == onnx.__version__
    assert "x" in manifest["input"] and manifest["pad_multiple"] == 64


def test_graphs_have_opset_17_and_dynamic_sides():
    _, model_dir, manifest = exported()
    assert manifest["graphs"]["synthesis_fp16"]["precision"] == "fp16"
    for file in ["analysis.onnx", "synthesis.onnx", "synthesis_fp16.onnx"]:
        graph = onnx.load(model_dir / file, load_external_data=False)
        assert max(o.version for o in graph.opset_import if o.domain in ("", "ai.onnx")) >= 17
        for value in graph.graph.input:
            if value.type.tensor_type.elem_type == onnx.TensorProto.FLOAT:
                dims = value.type.tensor_type.shape.dim
                assert dims[2].dim_param and dims[3].dim_param, (file, value.name)


def test_entropy_parameters_are_integer_weights_of_every_network():
    model, model_dir, manifest = exported()
    entry = manifest["entropy_parameters"]
    assert entry["format"] == "integer-v1"
    slices = model.config.num_slices
    assert entry["networks"] == sorted(
        ["hyper_means", "hyper_scales"] + [f"{kind}_{k}" for kind in ("mean", "scale", "lrp") for k in range(slices)]
    )
    with np.load(model_dir / entry["file"], allow_pickle=False) as arrays:
        weights = [arrays[key] for key in arrays.files if key.endswith(".weight")]
        assert len(weights) == 2 * 5 + 3 * slices * 5  # h_s branches: 5 convs; slice nets: 5 convs
        assert all(w.dtype == np.int16 and np.abs(w).max() <= 2**14 for w in weights)
        assert list(arrays["mean_0.program"]) == ["conv", "gelu"] * 4 + ["conv"]
        assert "shuffle2" in list(arrays["hyper_means.program"])


def test_an_equivariant_entropy_model_exports_its_gains_and_serves(tmp_path):
    from service.runtime import CodecRuntime

    model = tiny_model(equivariant_entropy=True)
    with torch.no_grad():  # the qualities' gains apart, as after training
        model.gains.log_gain += 0.3 * torch.randn_like(model.gains.log_gain)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        manifest = ex.export_model(model, tmp_path / "model", detector="morph", trained=False,
                                   parity_images=("page",), parity_size=96)
    finally:
        torch.set_num_threads(threads)
    assert manifest["config"]["equivariant_entropy"] is True
    for name, report in manifest["parity"]["images"].items():
        assert report["networks"]["entropy_path_identical"], name
        assert report["torch_stream_in_onnx"]["ok"] and report["onnx_stream_in_torch"]["ok"], name
    with np.load(tmp_path / "model" / manifest["entropy_parameters"]["file"], allow_pickle=False) as arrays:
        np.testing.assert_array_equal(arrays["log_gain"], model.gains.log_gain.detach().numpy())
    runtime = CodecRuntime.load(tmp_path / "model", providers=["CPUExecutionProvider"])  # decodes its references
    assert runtime.model_id == model_id(model).hex()


def test_inference_gdn_matches_compressai_gdn():
    model = tiny_model()
    gdn = model.analysis.stages[0][1]
    igdn = model.synthesis.stages[0][1]
    x = torch.randn(1, 32, 8, 8)
    with torch.no_grad():
        assert torch.equal(ex.InferenceGDN(gdn)(x), gdn(x))
        assert torch.equal(ex.InferenceGDN(igdn)(x), igdn(x))


def test_failed_parity_leaves_the_previous_model_directory(monkeypatch, tmp_path):
    out = tmp_path / "model"
    out.mkdir()
    (out / "manifest.json").write_text("{}")

    def disagree(*args, **kwargs):
        raise parity.ParityError("ONNX export disagrees with PyTorch")

    monkeypatch.setattr(parity, "check", disagree)
    monkeypatch.setattr(ex, "export_graphs", lambda model, staging, fp16: {})
    with pytest.raises(parity.ParityError):
        ex.export_model(tiny_model(), out, detector="none", trained=False)
    assert [p.name for p in out.iterdir()] == ["manifest.json"]
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # no staging directory left behind
    stray = tmp_path / "not_a_model"
    stray.mkdir()
    (stray / "keep.txt").write_text("x")
    with pytest.raises(FileExistsError):
        ex.export_model(tiny_model(), stray, detector="none", trained=False)


def test_parity_catches_a_different_model():
    _, model_dir, _ = exported()
    with pytest.raises(parity.ParityError, match="model id"):
        parity.check(tiny_model(seed=1), model_dir, images=("random",), size=64)


def test_parity_fails_an_export_whose_entropy_path_is_off():
    """The last conv of one mean net shifted by 0.3: the paths differ, and streams do not cross."""
    from screen_codec.models.torch_networks import TorchNetworks

    reference = TorchNetworks(tiny_model())
    broken = TorchNetworks(tiny_model())
    last_conv = broken.entropy.networks["mean_0"].steps[-1][1]
    last_conv.bias[:] += 0.3 * 4096 / last_conv.scale
    rgb = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    report, failures = parity.compare(reference, broken, rgb, np.ones((64, 64), np.uint8), 5)
    assert not report["networks"]["entropy_path_identical"]
    assert any("entropy-parameter path differs" in f for f in failures)
    assert any("cross" in f for f in failures)


def test_checkpoint_loading_compact_and_state_dict(tmp_path):
    from training.checkpoint import save_compact

    model = tiny_model()
    save_compact(tmp_path / "compact.pt", model, {"step": 7})
    loaded = ex.load_checkpoint(tmp_path / "compact.pt")
    assert loaded.kind == "compact" and loaded.metadata["step"] == 7
    assert loaded.model.config == model.config
    torch.save({"config": model.config.to_json(), "state_dict": model.state_dict()}, tmp_path / "plain.pt")
    plain = ex.load_checkpoint(tmp_path / "plain.pt")
    assert plain.kind == "state_dict"
    plain.model.update_entropy_tables()
    model.update_entropy_tables()
    assert model_id(plain.model) == model_id(model)
    (tmp_path / "val.csv").write_text("step,quality,lambda,bpp,psnr,text_psnr\n5,1,0.1,0.5,30,30\n7,1,0.1,0.25,31,31\n7,2,0.2,0.5,32,32\n")
    at_7 = {
        1: {"typical_bpp": 0.25, "psnr": 31.0, "text_psnr": 31.0, "step": 7},
        2: {"typical_bpp": 0.5, "psnr": 32.0, "text_psnr": 32.0, "step": 7},
    }
    assert ex.validation_rd(tmp_path / "compact.pt", 7) == at_7
    assert ex.validation_rd(tmp_path / "compact.pt", 99) == at_7
    assert np.isfinite(loaded.model.gains.log_gain.detach().numpy()).all()


def test_held_out_reports_give_the_manifest_its_rd_and_each_quality_a_typical_bpp(tmp_path):
    """bench/rd.py reports -> held_out_rd (curve and comparisons) and held_out_typical_bpp: the median
    over distinct screenshots, an image in two sets counted once."""
    def report(name: str, images: dict[str, list[float]]) -> Path:
        points = [{"codec": codec, "setting": q, "image": sha, "sha256": sha, "bpp": bpps[q - 1] * scale}
                  for sha, bpps in images.items() for q in (1, 2)
                  for codec, scale in (("compact@7/dbnet", 1.0), ("webp", 3.0))]
        curve = [{"setting": q, "bpp": 0.0, "psnr": 30.0 + q, "text_psnr": 20.0 + q, "bytes": 1} for q in (1, 2)]
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps({
            "meta": {"command": f"rd.py {name}", "date": "2026-12-06", "images": [{"name": s} for s in images]},
            "curves": {"compact@7/dbnet": curve, "webp": curve},
            "comparisons": [{"anchor": "webp", "test": "compact@7/dbnet", "psnr": {"bd_rate": -5.0}},
                            {"anchor": "webp", "test": "jpeg", "psnr": {"bd_rate": 1.0}}],
            "points": points,
        }))
        return path

    docs = report("docs", {"a": [0.1, 0.2], "b": [0.3, 0.6]})
    apps = report("apps", {"b": [0.3, 0.6], "c": [0.5, 1.0], "d": [0.9, 1.8]})
    entries = ex.held_out_rd([docs, apps], "compact@7/dbnet")
    assert [e["images"] for e in entries] == [["a", "b"], ["b", "c", "d"]]
    assert [len(e["comparisons"]) for e in entries] == [1, 1]
    assert entries[0]["curve"][1] == {"setting": 2, "bpp": 0.0, "psnr": 32.0, "text_psnr": 22.0}
    assert ex.held_out_typical_bpp([docs, apps], "compact@7/dbnet") == {1: 0.4, 2: 0.8}  # a, b, c, d
    with pytest.raises(ValueError, match="no points"):
        ex.held_out_typical_bpp([docs], "compact@8/dbnet")
