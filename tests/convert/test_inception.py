"""torchvision's Inception-v3 (as the DAMSM image encoder CNN_ENCODER holds it) and pytorch-fid's
FID Inception, on random weights (never downloaded), converted into `TorchInceptionV3` /
`DamsmTorchvisionEncoder`: pool features, Mixed_6e region features and DAMSM's two projections
agree with torch's within 1e-4.

Two references, the same check: `stored`, the arrays torch computed for these weights
(`tests/convert/data/inception_reference.npz`, written by `inception_torch_side.py`; runs on every
machine, CI included, since no torchvision that imports beside the CPU torch 2.13.0 is on this
machine's package sources), and `live`, torch run now in a child process where torchvision and
pytorch-fid are installed (BUILD.md: inception parity). The weights come from each key's name
(`inception_torch_side.random_state`), so both sides build the same state dict."""

import importlib.util
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from t2izoo.convert.inception import build_inception, inception_state_dict
from t2izoo.convert.state_dict import ConversionError, StateDict
from tests.convert import inception_torch_side as torch_side

TOLERANCE = 1e-4
STORED = pathlib.Path(__file__).parent / "data" / "inception_reference.npz"
SOURCES = ("stored", "live")


def reference(kind, source, tmp_path):
    """(arrays, state): torch's outputs for `kind` ("torchvision", "fid", "damsm") with the input `x`,
    and the state dict they were computed with."""
    path = STORED
    if source == "live":
        needs = ("torchvision", "pytorch_fid") if kind == "fid" else ("torchvision",)
        for module in needs:
            if importlib.util.find_spec(module) is None:
                pytest.skip(f"{module} is not installed (BUILD.md: inception parity)")
        path = tmp_path / f"{kind}.npz"
        env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
        done = subprocess.run([sys.executable, torch_side.__file__, str(path), kind], capture_output=True, text=True,
                              env=env, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
    with np.load(path) as stored:
        arrays = {k.split("/", 1)[1]: stored[k] for k in stored.files if k.startswith(kind + "/")}
    arrays["x"] = torch_side.inputs(kind)
    return arrays, torch_side.random_state(json.loads(str(arrays.pop("manifest"))))


def max_rel(got, want) -> float:
    """max |got - want| relative to the reference's scale (at least 1)."""
    want = np.asarray(want, np.float64)
    return float(np.max(np.abs(np.asarray(got, np.float64) - want)) / max(1.0, np.abs(want).max()))


@pytest.mark.parametrize("source", SOURCES)
def test_torchvision_inception_pool_and_region_features_within_1e_4(source, tmp_path):
    want, state = reference("torchvision", source, tmp_path)
    model = build_inception("torchvision", state)  # fc and AuxLogits are accepted and skipped
    out = model(want["x"])
    assert np.abs(want["pool"]).max() > 1e-2  # features of scale, not zeros
    assert max_rel(out["pool"], want["pool"]) <= TOLERANCE
    channels = want["mixed_6e"].shape[-1]  # the stored reference keeps the first 16 of 768
    assert max_rel(np.asarray(out["mixed_6e"])[..., :channels], want["mixed_6e"]) <= TOLERANCE


@pytest.mark.parametrize("source", SOURCES)
def test_pytorch_fid_inception_pool_features_within_1e_4(source, tmp_path):
    want, state = reference("fid", source, tmp_path)
    model = build_inception("fid", state)
    assert np.abs(want["pool"]).max() > 1e-2
    assert max_rel(model(want["x"])["pool"], want["pool"]) <= TOLERANCE
    # the torchvision form on the same weights differs: its A/C/E pools count the padding
    other = build_inception("torchvision", state)
    assert max_rel(other(want["x"])["pool"], want["pool"]) > 10 * TOLERANCE


@pytest.mark.parametrize("source", SOURCES)
def test_damsm_image_encoder_converts_within_1e_4(source, tmp_path):
    from t2izoo.conditioning.damsm.convert import assign_image_encoder
    from t2izoo.encoders.damsm_image import DamsmTorchvisionEncoder

    want, state = reference("damsm", source, tmp_path)
    encoder = DamsmTorchvisionEncoder(32)
    encoder(want["x"])
    arrays = StateDict(state, "image_encoder.pth")
    assign_image_encoder(arrays, encoder)
    arrays.finish("DamsmTorchvisionEncoder(32)")
    regions, code = encoder(want["x"])  # 64 px in [-1, 1], resized to 299 as CNN_ENCODER does
    assert max_rel(regions, want["regions"]) <= TOLERANCE
    assert max_rel(code, want["code"]) <= TOLERANCE


def test_a_state_dict_of_another_network_is_refused_in_one_line():
    from t2izoo.encoders.torch_inception import TorchInceptionV3

    net = TorchInceptionV3("torchvision")
    net(np.zeros((1, 299, 299, 3), np.float32))
    arrays = {k: v for k, v in inception_state_dict(net).items() if not k.startswith("Mixed_7c.")}
    arrays["Conv2d_1a_3x3.conv.weight"] = arrays["Conv2d_1a_3x3.conv.weight"][:16]
    arrays["fc.weight"] = np.zeros((1000, 2048), np.float32)  # the classifier is accepted and skipped
    with pytest.raises(ConversionError) as err:
        build_inception("torchvision", arrays, path="image_encoder.pth")
    message = str(err.value)
    assert "\n" not in message and message.startswith("image_encoder.pth does not match")
    assert "missing key(s)" in message and "Mixed_7c.branch1x1.conv.weight" in message
    assert "Conv2d_1a_3x3.conv.weight: converted shape (3, 3, 3, 16), the model needs (3, 3, 3, 32)" in message
    assert "unknown" not in message
