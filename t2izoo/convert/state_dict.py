"""Official PyTorch `state_dict`s as numpy arrays, and copying them into Keras variables.

`StateDict` wraps {key: array}; converters `take` arrays by their official keys and `assign`
them to Keras variables in Keras layouts. It collects every problem instead of stopping at the
first: a missing key, an array of the wrong shape, and (at `finish`) every key no converter took.
`finish` then raises one `ConversionError` naming the file and listing them all, so a checkpoint
of another model or preset is refused in one line with everything that does not match.

Layouts: conv OIHW -> HWIO (`conv_kernel`), linear (out, in) -> (in, out) (`dense_kernel`),
BatchNorm weight/bias/running_mean/running_var -> gamma/beta/moving_mean/moving_variance.
"""

from __future__ import annotations

import numpy as np

from t2izoo.errors import T2IError

# PyTorch bookkeeping that has no Keras counterpart (BN's step counter).
IGNORED_SUFFIXES = ("num_batches_tracked",)


class ConversionError(T2IError, ValueError):
    """A checkpoint does not match the model it is converted into."""


def conv_kernel(weight) -> np.ndarray:
    """PyTorch conv weight [out, in, kh, kw] -> Keras [kh, kw, in, out]."""
    return np.transpose(np.asarray(weight), (2, 3, 1, 0))


def dense_kernel(weight) -> np.ndarray:
    """PyTorch linear weight [out, in] -> Keras [in, out]."""
    return np.transpose(np.asarray(weight))


class StateDict:
    """Official arrays by key, with the problems found while converting them.

    Args:
        arrays: {official key: array}; a `module.` prefix (DataParallel) is dropped.
        source: what to name in errors (the checkpoint file).

    Example:
        >>> state = StateDict(np.load("attngan_small.npz"), "attngan_small.npz").sub("generator/")
        >>> state.assign_conv(layer, "img_net1.img.0")
        >>> state.finish()
    """

    def __init__(self, arrays, source: str = "state dict"):
        self.arrays = {}
        for key, value in dict(arrays).items():
            key = key[len("module."):] if key.startswith("module.") else key
            if not key.endswith(IGNORED_SUFFIXES):
                self.arrays[key] = value
        self.source = source
        self.prefix = ""
        self.used = set()
        self.problems = []

    def sub(self, prefix: str) -> "StateDict":
        """A view of the keys under `prefix` (sharing what is used and the problems)."""
        view = object.__new__(StateDict)
        view.__dict__.update(self.__dict__)
        view.prefix = self.prefix + prefix
        return view

    def has(self, key: str) -> bool:
        return self.prefix + key in self.arrays

    def keys(self) -> list:
        return [k[len(self.prefix):] for k in self.arrays if k.startswith(self.prefix)]

    def take(self, key: str, shape=None):
        """The array at `key` (numpy), or None with a problem recorded when it is missing or
        (given `shape`, the PyTorch shape expected) shaped otherwise."""
        full = self.prefix + key
        if full not in self.arrays:
            self.problems.append(f"missing {full}")
            return None
        self.used.add(full)
        value = np.asarray(self.arrays[full])
        if shape is not None and tuple(value.shape) != tuple(shape):
            self.problems.append(f"{full} has shape {tuple(value.shape)}, the model needs {tuple(shape)}")
            return None
        return value

    def _permute(self, value, order, axis: int, key: str, variable):
        """`value` with `order` applied along `axis`, or None (a shape problem recorded) when the
        official array does not have as many entries there as the model."""
        if value is None or order is None:
            return value
        if value.shape[axis] != len(order):
            self.problems.append(f"{self.prefix + key} has shape {tuple(value.shape)}, the model needs "
                                 f"{tuple(variable.shape)}")
            return None
        return np.take(value, order, axis=axis)

    def set(self, variable, value, key: str):
        """Assigns `value` (already in Keras layout) to `variable`, or records a shape problem."""
        if value is None:
            return
        if tuple(variable.shape) != tuple(value.shape):
            self.problems.append(f"{self.prefix + key}: converted shape {tuple(value.shape)}, the model needs "
                                 f"{tuple(variable.shape)}")
            return
        variable.assign(value.astype(np.float32))

    # -- layers -------------------------------------------------------------------------------------
    def assign_conv(self, layer, key: str, in_order=None):
        """`key.weight` (and `key.bias` when the layer has one) into a Keras Conv2D; `in_order`
        permutes the input channels (where our concatenation order differs from the official)."""
        weight = self.take(f"{key}.weight")
        if weight is not None:
            kernel = self._permute(conv_kernel(weight), in_order, 2, f"{key}.weight", layer.kernel)
            self.set(layer.kernel, kernel, f"{key}.weight")
        if layer.use_bias:
            self.set(layer.bias, self.take(f"{key}.bias"), f"{key}.bias")
        elif self.has(f"{key}.bias"):
            self.problems.append(f"{self.prefix}{key}.bias: the model's layer has no bias")

    def assign_dense(self, layer, key: str, out_order=None):
        """`key.weight` (and `key.bias`) into a Keras Dense; `out_order` permutes the units."""
        weight = self.take(f"{key}.weight")
        if weight is not None:
            kernel = self._permute(dense_kernel(weight), out_order, 1, f"{key}.weight", layer.kernel)
            self.set(layer.kernel, kernel, f"{key}.weight")
        if layer.use_bias:
            bias = self._permute(self.take(f"{key}.bias"), out_order, 0, f"{key}.bias", layer.bias)
            self.set(layer.bias, bias, f"{key}.bias")
        elif self.has(f"{key}.bias"):
            self.problems.append(f"{self.prefix}{key}.bias: the model's layer has no bias")

    def assign_batch_norm(self, layer, key: str, order=None):
        """A PyTorch BatchNorm (affine + running statistics) into a Keras BatchNormalization;
        `order` permutes the channels."""
        for name, variable in (("weight", layer.gamma), ("bias", layer.beta), ("running_mean", layer.moving_mean),
                               ("running_var", layer.moving_variance)):
            value = self._permute(self.take(f"{key}.{name}"), order, 0, f"{key}.{name}", variable)
            self.set(variable, value, f"{key}.{name}")

    def assign_embedding(self, layer, key: str):
        self.set(layer.embeddings, self.take(f"{key}.weight"), f"{key}.weight")

    # -- the end --------------------------------------------------------------------------------------
    def finish(self, what: str = "the model"):
        """Raises one ConversionError (one line) naming the missing keys, the keys nothing took and
        the mis-shaped arrays, a few of each with their counts."""
        missing = [p[len("missing "):] for p in self.problems if p.startswith("missing ")]
        other = [p for p in self.problems if not p.startswith("missing ")]
        unknown = sorted(set(self.arrays) - self.used)
        groups = [(f"{len(missing)} missing key(s)", missing), (f"{len(unknown)} unknown key(s)", unknown),
                  (f"{len(other)} mismatch(es)", other)]
        parts = [f"{title}: " + ", ".join(items[:3]) + (", ..." if len(items) > 3 else "")
                 for title, items in groups if items]
        if parts:
            raise ConversionError(f"{self.source} does not match {what}: " + "; ".join(parts))


def load_torch_state_dict(path: str) -> dict:
    """{key: numpy array} of a PyTorch checkpoint file (a state dict, or a dict holding one under
    `state_dict`/`model`); needs torch (`pip install t2izoo[convert]`)."""
    import os

    if not os.path.isfile(path):
        raise ConversionError(f"{path}: no such checkpoint file")
    try:
        import torch
    except ImportError:
        raise ConversionError("reading .pth checkpoints needs torch: pip install 't2izoo[convert]'") from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated or not a torch file: torch raises many kinds
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConversionError(f"{path} is not a readable PyTorch checkpoint ({first})") from None
    for wrapper in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
            state = state[wrapper]
    if not isinstance(state, dict) or not all(hasattr(v, "numpy") for v in state.values()):
        raise ConversionError(f"{path} holds no state dict of tensors")
    return {k: v.detach().cpu().numpy() for k, v in state.items()}
