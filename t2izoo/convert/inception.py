"""torchvision-layout Inception-v3 state dicts (DAMSM `image_encoder*.pth`, pytorch-fid's
`pt_inception-2015-12-05-*.pth`) into `TorchInceptionV3`.

Each `BasicConv2d` `<name>.conv.weight` (OIHW) and `<name>.bn.{weight,bias,running_mean,running_var}`
goes to the `BasicConv` of that name. The classifier (`fc.*`) and the auxiliary head
(`AuxLogits.*`) end after the pool this model stops at: `ignore_heads` accepts and skips them.
"""

from __future__ import annotations

import numpy as np

from t2izoo.convert.state_dict import ConversionError, StateDict, load_torch_state_dict

HEADS = ("fc.", "AuxLogits.")


def assign_inception(state: StateDict, model, ignore_heads: bool = True):
    """Every `BasicConv` of a built `TorchInceptionV3` from `state` (keys under its prefix)."""
    for name, basic in model.named_convs():
        state.assign_conv(basic.conv, f"{name}.conv")
        state.assign_batch_norm(basic.bn, f"{name}.bn")
    if ignore_heads:
        for key in state.keys():
            if key.startswith(HEADS):
                state.used.add(state.prefix + key)


def build_inception(variant: str, arrays=None, path: str = ""):
    """A `TorchInceptionV3(variant)` holding the weights of `arrays` ({key: array}) or of the
    .pth/.npz file `path`; ConversionError (one line) when they do not match."""
    from t2izoo.encoders.torch_inception import TorchInceptionV3

    if arrays is None:
        if path.endswith(".npz"):
            import os

            if not os.path.isfile(path):
                raise ConversionError(f"{path}: no such weights file")
            arrays = dict(np.load(path))
        else:
            arrays = load_torch_state_dict(path)
    model = TorchInceptionV3(variant)
    model(np.zeros((1, 299, 299, 3), np.float32))
    state = StateDict(arrays, path or "state dict")
    assign_inception(state, model)
    state.finish(f"Inception-v3 ({variant} layout)")
    return model


def inception_state_dict(model) -> dict:
    """The inverse mapping: a built `TorchInceptionV3`'s weights as the torchvision-layout state
    dict it converts from ({key: numpy array}, conv HWIO -> OIHW)."""
    out = {}
    for name, basic in model.named_convs():
        out[f"{name}.conv.weight"] = np.transpose(np.asarray(basic.conv.kernel), (3, 2, 0, 1))
        for key, variable in (("weight", basic.bn.gamma), ("bias", basic.bn.beta),
                              ("running_mean", basic.bn.moving_mean), ("running_var", basic.bn.moving_variance)):
            out[f"{name}.bn.{key}"] = np.asarray(variable)
    return out
