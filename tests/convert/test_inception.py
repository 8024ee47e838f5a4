"""torchvision's Inception-v3 (as the DAMSM image encoder CNN_ENCODER holds it) and pytorch-fid's
FID Inception, on random weights (never downloaded), converted into `TorchInceptionV3` /
`DamsmTorchvisionEncoder`: pool features, Mixed_6e region features and DAMSM's two projections
agree with torch's within 1e-4.

torch runs in a child process (`TORCH_SIDE`): torchvision's CUDA builds and TensorFlow do not load
into one process. Skipped where torchvision / pytorch-fid are not installed (BUILD.md: the
`inception-parity` setup)."""

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

from t2izoo.convert.inception import build_inception, inception_state_dict
from t2izoo.convert.state_dict import ConversionError, StateDict

TOLERANCE = 1e-4

TORCH_SIDE = r'''
import sys
import numpy as np
import torch
import torch.nn.functional as F
import torchvision

kind, out = sys.argv[1], sys.argv[2]
torch.manual_seed(0)
gen = torch.Generator().manual_seed(1)


def randomized(module):
    """Random conv weights and BN affine/statistics (every one of them matters), eval mode."""
    with torch.no_grad():
        for name, t in module.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            if name.endswith(("running_var", "bn.weight")):
                t.copy_(torch.rand(t.shape, generator=gen) + 0.5)
            elif name.endswith(("running_mean", "bn.bias")):
                t.copy_(torch.randn(t.shape, generator=gen) * 0.1)
            else:
                fan_in = int(np.prod(t.shape[1:])) if t.dim() > 1 else 1
                t.copy_(torch.randn(t.shape, generator=gen) * (1.0 / fan_in) ** 0.5)
    return module.eval()


if kind == "fid":  # pytorch-fid's fid_inception_v3 network, its blocks with random weights
    from pytorch_fid import inception as fid
    net = torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=False, num_classes=1008)
    net.Mixed_5b = fid.FIDInceptionA(192, pool_features=32)
    net.Mixed_5c = fid.FIDInceptionA(256, pool_features=64)
    net.Mixed_5d = fid.FIDInceptionA(288, pool_features=64)
    net.Mixed_6b = fid.FIDInceptionC(768, channels_7x7=128)
    net.Mixed_6c = fid.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6d = fid.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6e = fid.FIDInceptionC(768, channels_7x7=192)
    net.Mixed_7b = fid.FIDInceptionE_1(1280)
    net.Mixed_7c = fid.FIDInceptionE_2(2048)
else:
    net = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=False)
net = randomized(net)
heads = {}
if kind == "damsm":  # CNN_ENCODER's projections: emb_features (1x1, 768 -> 32), emb_cnn_code (2048 -> 32)
    heads = {"emb_features": torch.nn.Conv2d(768, 32, 1, bias=False), "emb_cnn_code": torch.nn.Linear(2048, 32)}
    for m in heads.values():
        randomized(m)
size = 64 if kind == "damsm" else 299
x = np.random.default_rng(2).uniform(-1, 1, (2, size, size, 3)).astype(np.float32)
with torch.no_grad():
    h = torch.from_numpy(np.transpose(x, (0, 3, 1, 2)))
    if kind == "damsm":
        h = F.interpolate(h, size=(299, 299), mode="bilinear", align_corners=False)
    for name in ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1", "Conv2d_4a_3x3",
                 "maxpool2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d",
                 "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c"):
        h = getattr(net, name)(h)
        if name == "Mixed_6e":
            mixed_6e = h
    pool = F.avg_pool2d(h, kernel_size=8).flatten(1)
    arrays = {"x": x, "pool": pool.numpy(), "mixed_6e": np.transpose(mixed_6e.numpy(), (0, 2, 3, 1))}
    if kind == "damsm":
        arrays["regions"] = np.transpose(heads["emb_features"](mixed_6e).numpy(), (0, 2, 3, 1))
        arrays["code"] = heads["emb_cnn_code"](pool).numpy()
state = dict(net.state_dict())
for prefix, m in heads.items():
    state.update({f"{prefix}.{k}": v for k, v in m.state_dict().items()})
arrays.update({"sd/" + k: v.numpy() for k, v in state.items()})
np.savez(out, **arrays)
'''


def torch_reference(kind, tmp_path, needs=("torchvision",)):
    for module in needs:
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed (BUILD.md: inception parity)")
    out = tmp_path / f"{kind}.npz"
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, "-c", TORCH_SIDE, kind, str(out)], capture_output=True, text=True, env=env,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    arrays = dict(np.load(out))
    state = {k[3:]: v for k, v in arrays.items() if k.startswith("sd/")}
    return arrays, state


def max_rel(got, want) -> float:
    """max |got - want| relative to the reference's scale (at least 1)."""
    want = np.asarray(want, np.float64)
    return float(np.max(np.abs(np.asarray(got, np.float64) - want)) / max(1.0, np.abs(want).max()))


def test_torchvision_inception_pool_and_region_features_within_1e_4(tmp_path):
    want, state = torch_reference("torchvision", tmp_path)
    model = build_inception("torchvision", state)  # fc and AuxLogits are accepted and skipped
    out = model(want["x"])
    assert np.abs(want["pool"]).max() > 1e-2  # features of scale, not zeros
    assert max_rel(out["pool"], want["pool"]) <= TOLERANCE
    assert max_rel(out["mixed_6e"], want["mixed_6e"]) <= TOLERANCE


def test_pytorch_fid_inception_pool_features_within_1e_4(tmp_path):
    want, state = torch_reference("fid", tmp_path, needs=("torchvision", "pytorch_fid"))
    model = build_inception("fid", state)
    assert np.abs(want["pool"]).max() > 1e-2
    assert max_rel(model(want["x"])["pool"], want["pool"]) <= TOLERANCE
    # the torchvision form on the same weights differs: its A/C/E pools count the padding
    other = build_inception("torchvision", state)
    assert max_rel(other(want["x"])["pool"], want["pool"]) > 10 * TOLERANCE


def test_damsm_image_encoder_converts_within_1e_4(tmp_path):
    from t2izoo.conditioning.damsm.convert import assign_image_encoder
    from t2izoo.encoders.damsm_image import DamsmTorchvisionEncoder

    want, state = torch_reference("damsm", tmp_path)
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
