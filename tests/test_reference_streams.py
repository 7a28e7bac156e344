"""Reference streams: the bundled models' streams, encoded on the exporting host, decode on this one.

Every CI host that is not the exporting host (its CPU is in the manifest, "encoded_on") makes the
first test a cross-hardware check of the exactness boundary: rANS + the integer entropy-parameter
path must give the exporting host's latents bit for bit. The runtime runs the same check at every
load and refuses a model that fails it (last test).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from screen_codec import codec, reference_streams
from screen_codec.metrics import psnr
from service.runtime import CodecRuntime, ModelDirectoryError, TimedEntropyParameters
from test_export import exported

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("model", ["default", "lite"])
def test_bundled_reference_streams_decode_here_as_on_the_exporting_host(model):
    model_dir = REPO / "models" / model
    runtime = CodecRuntime.load(
        model_dir, providers=["CPUExecutionProvider"], check_reference_streams=False
    )
    spec = runtime.manifest["reference_streams"]
    streams = spec["streams"]
    assert [(s["quality"], s["tile_size"] > 0) for s in streams] == [(1, False), (len(runtime.qualities), True)]
    nets = runtime.networks
    for entry in streams:  # the latents: bit for bit
        data = (model_dir / entry["file"]).read_bytes()
        assert reference_streams.latents_digest(nets, data) == entry["latents_sha256"], (
            f"{model}/{entry['file']}: encoded on {spec['encoded_on']}, decoded differently here"
        )
    bgr = cv2.imread(str(REPO / spec["source"]), cv2.IMREAD_COLOR)
    source = np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    assert hashlib.sha256(source.tobytes()).hexdigest() == spec["source_pixels_sha256"]
    for entry in streams:  # the image: float g_s, held to the recorded PSNR
        image = runtime.decode((model_dir / entry["file"]).read_bytes()).rgb
        assert abs(psnr(image, source) - entry["psnr_db"]) < 0.01, entry["file"]
    tiled = codec.unpack((model_dir / streams[-1]["file"]).read_bytes())
    assert len(tiled.tiles) == 6  # 600x400 in tiles of 256: partial edge tiles included


def test_every_export_writes_reference_streams_that_verify():
    _, model_dir, manifest = exported()
    streams = manifest["reference_streams"]["streams"]
    assert {s["file"] for s in streams} <= set(manifest["files"])
    runtime = CodecRuntime.load(model_dir, providers=["CPUExecutionProvider"])
    reference_streams.verify(runtime.networks, model_dir, streams)
    assert all(s["bytes"] > 100 for s in streams)


def test_a_host_whose_entropy_arithmetic_differs_is_refused(monkeypatch, tmp_path):
    """Simulate a host whose entropy-parameter path rounds one way differently (means off by one
    unit in the last slice): the model must not be served there."""
    _, model_dir, _ = exported()
    copy = tmp_path / "model"
    shutil.copytree(model_dir, copy)
    CodecRuntime.load(copy)  # this host: accepted
    honest = TimedEntropyParameters.slice_moments

    def off_by_one(self, k, means, scales, decoded, quality):
        mu, sigma = honest(self, k, means, scales, decoded, quality)
        return (mu + 1.0 if k == self.num_slices - 1 else mu), sigma

    monkeypatch.setattr(TimedEntropyParameters, "slice_moments", off_by_one)
    with pytest.raises(ModelDirectoryError, match="reference streams .*reference_q1.scic decodes to latents"):
        CodecRuntime.load(copy)
    monkeypatch.undo()

    manifest = json.loads((copy / "manifest.json").read_text())
    (copy / manifest["reference_streams"]["streams"][0]["file"]).unlink()
    with pytest.raises(ModelDirectoryError, match="reference_q1.scic is listed in the manifest but missing"):
        CodecRuntime.load(copy)
