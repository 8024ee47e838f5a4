"""The torch side of tests/convert/test_inception.py: torchvision's Inception-v3, pytorch-fid's FID
Inception and the DAMSM image encoder's two projections (CNN_ENCODER), on random weights that
`random_state` derives from each key's name, so the Keras side rebuilds the same state dict with
numpy alone.

Run by the tests in a child process where torchvision and pytorch-fid import (torchvision's CUDA
builds and TensorFlow do not load into one process), and by hand to refresh the stored reference
that the tests check on every machine (BUILD.md, "inception parity"):

    CUDA_VISIBLE_DEVICES= /work/venv-tv/bin/python tests/convert/inception_torch_side.py \
        tests/convert/data/inception_reference.npz

Needs numpy, torch, torchvision and pytorch-fid; imports no t2izoo and no TensorFlow."""

import json
import sys
import zlib

import numpy as np

KINDS = ("torchvision", "fid", "damsm")
BLOCKS = ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1", "Conv2d_4a_3x3", "maxpool2",
          "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e", "Mixed_7a",
          "Mixed_7b", "Mixed_7c")
REGION_CHANNELS = 16  # the stored Mixed_6e features keep their first 16 of 768 channels (file size)


def random_array(key: str, shape) -> np.ndarray:
    """The random value of state-dict entry `key`: BN scales and variances in [0.5, 1.5), BN
    shifts and means N(0, 0.1^2), every other weight N(0, 1 / fan_in); seeded by the key's name."""
    rng = np.random.default_rng(zlib.crc32(key.encode()))
    shape = tuple(int(s) for s in shape)
    if key.endswith("num_batches_tracked"):
        return np.zeros(shape, np.int64)
    if key.endswith(("running_var", "bn.weight")):
        return (rng.random(shape) + 0.5).astype(np.float32)
    if key.endswith(("running_mean", "bn.bias")):
        return (rng.standard_normal(shape) * 0.1).astype(np.float32)
    fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
    return (rng.standard_normal(shape) * (1.0 / fan_in) ** 0.5).astype(np.float32)


def random_state(shapes: dict) -> dict:
    """{key: random_array(key, shape)} for a {key: shape} manifest."""
    return {key: random_array(key, shape) for key, shape in shapes.items()}


def inputs(kind: str) -> np.ndarray:
    """Two NHWC images in [-1, 1]: 299 px for the Inceptions, 64 px for DAMSM (resized inside)."""
    size = 64 if kind == "damsm" else 299
    return np.random.default_rng(2).uniform(-1, 1, (2, size, size, 3)).astype(np.float32)


def torch_outputs(kind: str) -> dict:
    """{"pool", "mixed_6e" (NHWC, first REGION_CHANNELS), ["regions", "code"] from torch, and "manifest":
    the state dict's {key: shape} as JSON}."""
    import torch
    import torch.nn.functional as F
    import torchvision

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
    modules = {"": net}
    if kind == "damsm":  # CNN_ENCODER's projections: emb_features (1x1, 768 -> 32), emb_cnn_code (2048 -> 32)
        modules["emb_features."] = torch.nn.Conv2d(768, 32, 1, bias=False)
        modules["emb_cnn_code."] = torch.nn.Linear(2048, 32)
    shapes = {}
    for prefix, module in modules.items():
        own = {k: tuple(v.shape) for k, v in module.state_dict().items()}
        module.load_state_dict({k: torch.from_numpy(random_array(prefix + k, s)) for k, s in own.items()})
        module.eval()
        shapes.update({prefix + k: s for k, s in own.items()})
    with torch.no_grad():
        h = torch.from_numpy(np.transpose(inputs(kind), (0, 3, 1, 2)))
        if kind == "damsm":
            h = F.interpolate(h, size=(299, 299), mode="bilinear", align_corners=False)
        for name in BLOCKS:
            h = getattr(net, name)(h)
            if name == "Mixed_6e":
                mixed_6e = h
        pool = F.avg_pool2d(h, kernel_size=8).flatten(1)
        arrays = {"pool": pool.numpy(),
                  "mixed_6e": np.transpose(mixed_6e.numpy(), (0, 2, 3, 1))[..., :REGION_CHANNELS]}
        if kind == "damsm":
            arrays["regions"] = np.transpose(modules["emb_features."](mixed_6e).numpy(), (0, 2, 3, 1))
            arrays["code"] = modules["emb_cnn_code."](pool).numpy()
    arrays["manifest"] = np.asarray(json.dumps({k: list(s) for k, s in shapes.items()}))
    return arrays


def main(argv):
    """inception_torch_side.py OUT.npz [KIND ...]: the reference arrays of each kind (all three by
    default), keys prefixed "<kind>/"."""
    out, kinds = argv[1], argv[2:] or KINDS
    arrays = {}
    for kind in kinds:
        arrays.update({f"{kind}/{k}": v for k, v in torch_outputs(kind).items()})
    arrays["versions"] = np.asarray(_versions())
    np.savez_compressed(out, **arrays)


def _versions():
    import importlib.metadata as md
    return [f"{name} {md.version(name)}" for name in ("torch", "torchvision", "pytorch-fid")]


if __name__ == "__main__":
    main(sys.argv)
