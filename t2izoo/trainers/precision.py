"""Mixed-precision training: `--override mixed_precision=bfloat16|float16` (`RunConfig`).

The models a run trains are built under Keras' `mixed_<dtype>` policy: layers compute in
bfloat16 or float16 and keep float32 variables, so checkpoints are the same float32 arrays in
every precision and a run may change its precision when it resumes. What needs the range or the
digits stays float32: batch-norm statistics (Keras' batch norm computes them in float32), every
loss (`t2izoo.losses` casts its inputs), the attention softmaxes, the frozen pretrained encoders
(built outside the policy: the DAMSM and char-CNN-RNN conditioners), and the EMA generator that
samples, evaluation and export use. float16 also scales G's and D's losses (Keras
`LossScaleOptimizer`, dynamic scale; a step whose gradients overflow is skipped and the scale
halved), which only the GAN trainers do; bfloat16 has float32's range and needs no scaling.

On this CPU (AVX-512 BF16) bfloat16 without XLA took 1.2-1.9x fewer CPU seconds per step than
the float32 XLA step on the `shapes` presets, and met the `cub` targets of #28 (BUILD.md,
`benchmarks/bench_train_step.py`); GPUs run both.
"""

from __future__ import annotations

import contextlib

import keras

from t2izoo.errors import ConfigError

MIXED_PRECISIONS = ("none", "bfloat16", "float16")


def check_mixed_precision(value: str, loss_scaled: bool):
    """One clear error for a precision this config cannot train in."""
    if value not in MIXED_PRECISIONS:
        raise ConfigError(f"mixed_precision={value!r}: expected one of {', '.join(MIXED_PRECISIONS)}")
    if value == "float16" and not loss_scaled:
        raise ConfigError("mixed_precision=float16 needs loss scaling, which only the GAN recipes do; "
                          "use mixed_precision=bfloat16 (float32's range, no scaling needed)")


def policy_name(value: str) -> str:
    return "float32" if value == "none" else f"mixed_{value}"


@contextlib.contextmanager
def training_precision(value: str):
    """Layers created inside compute in `value` ("none", "bfloat16" or "float16") with float32
    variables; the global policy is restored on exit, so nothing built later (the EMA generator,
    evaluation, export) inherits it."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy_name(value))
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def loss_scaled(optimizer, value: str, initial_scale: float = 2.0 ** 15):
    """`optimizer` wrapped in a dynamic `LossScaleOptimizer` for float16, else itself. The first
    steps of a run may overflow at Keras' initial scale: each is skipped (no update, the
    optimizer's `iterations` stays) and the scale halved until the gradients are finite."""
    if value != "float16":
        return optimizer
    return keras.optimizers.LossScaleOptimizer(optimizer, initial_scale=initial_scale)


def unscaled(optimizer):
    """The optimizer whose state a checkpoint keeps: the inner one of a `LossScaleOptimizer`
    (the loss scale restarts on resume), so checkpoints are the same in every precision."""
    return getattr(optimizer, "inner_optimizer", optimizer)


def float32_copy_config(config: dict) -> dict:
    """A model's `get_config()` with its dtype policy made float32 (the EMA generator's)."""
    return {**config, "dtype": "float32"} if "dtype" in config else config
