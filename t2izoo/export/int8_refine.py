"""Quantization-aware weight refinement before full-integer (int8) TFLite conversion.

Post-training int8 rounds every kernel to 255 levels per output channel. For a generator
that is the larger share of its output error on held-out inputs (the rest is int8 activation
rounding and clipping at the calibrated ranges). `refine_for_int8` shrinks that share: it
distils the float generator into itself with its kernels fake-quantized exactly as the
TFLite converter will quantize them (symmetric per output channel, scale = max |w| / 127;
per-channel rounding commutes with the batch-norm folding the converter does, so the
unfolded Keras kernels can be rounded), training float "shadow" kernels through the rounding
with the straight-through estimator (BinaryConnect; Courbariaux et al., 2015) and the other
trainable variables (biases, batch-norm scale and shift) directly, on the MSE to the
untouched float model's output over training-caption inputs.

The float model the refinement starts from is the reference: the SavedModel and the
fp32 / float16 / dynamic TFLite files keep the original weights, only the int8 file is
converted from the refined ones, and `int8_refined` restores the original weights afterwards.

    with int8_refined(part.trackables, part.forward, part.batched_inputs(4096, rng)) as report:
        data = converter.convert()          # converts the refined weights
    print(report)

Figures (`benchmarks/bench_export.py --int8_only`): on the first GAN-INT-CLS `shapes`
checkpoint the held-out max |diff| of rounding the kernels alone (float activations) goes
from 0.047 to 0.025 with 600 steps, and the full-int8 max from 0.065 to 0.053.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time

import numpy as np

from t2izoo.errors import ConfigError

DEFAULT_STEPS = 600
DEFAULT_LEARNING_RATE = 2e-6
DEFAULT_BATCH_SIZE = 32
DEFAULT_INPUTS = 4096
INT8_MAX = 127.0


@dataclasses.dataclass(frozen=True)
class RefineReport:
    """What one refinement did; |diff| figures are of kernel rounding alone (float activations)
    against the original float model, on held-out rows of the refinement inputs."""

    steps: int
    seconds: float
    kernels: int
    max_diff_before: float
    max_diff_after: float
    mean_diff_before: float
    mean_diff_after: float
    mse_before: float
    mse_after: float

    def __str__(self):
        return (f"int8 weight refinement: {self.steps} steps over {self.kernels} kernels in {self.seconds:.0f} s; "
                f"kernel rounding alone, max |diff| {self.max_diff_before:.4f} -> {self.max_diff_after:.4f}, "
                f"mean {self.mean_diff_before:.5f} -> {self.mean_diff_after:.5f}")


def quantizable_kernels(models) -> list:
    """(kernel variable, output-channel axis) of every Dense / Conv2D / Conv2DTranspose in `models`.

    The axis is the one TFLite's per-channel quantization uses after conversion (its output
    channel): the last kernel axis, except Conv2DTranspose's (h, w, out, in) kernel, axis 2.
    """
    import keras

    found, seen = [], set()
    for model in models:
        for layer in model._flatten_layers(include_self=False):
            if not isinstance(layer, (keras.layers.Dense, keras.layers.Conv2D, keras.layers.Conv2DTranspose)):
                continue
            kernel = getattr(layer, "kernel", None)
            if kernel is None or id(kernel) in seen:
                continue
            seen.add(id(kernel))
            axis = 2 if isinstance(layer, keras.layers.Conv2DTranspose) else len(kernel.shape) - 1
            found.append((kernel, axis))
    return found


def fake_quantize(w, axis: int):
    """`w` rounded to symmetric per-channel int8 along `axis` and scaled back (TFLite's scheme)."""
    import tensorflow as tf

    reduce = [i for i in range(len(w.shape)) if i != axis]
    scale = tf.reduce_max(tf.abs(w), axis=reduce, keepdims=True) / INT8_MAX
    scale = tf.where(scale > 0, scale, tf.ones_like(scale))
    return tf.round(w / scale) * scale


def _check(steps, learning_rate, batch_size, inputs) -> int:
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 0:
        raise ConfigError(f"int8 refinement steps must be an integer >= 0, got {steps!r}")
    if not learning_rate > 0:
        raise ConfigError(f"int8 refinement learning rate must be > 0, got {learning_rate!r}")
    rows = {len(v) for v in inputs.values()}
    if len(rows) != 1:
        raise ConfigError(f"int8 refinement inputs disagree on the number of rows: {sorted(rows)}")
    (rows,) = rows
    if rows < 2 * batch_size:
        raise ConfigError(f"int8 refinement needs at least {2 * batch_size} input rows, got {rows}")
    return rows


def refine_for_int8(models, forward, inputs: dict, steps: int = DEFAULT_STEPS,
                    learning_rate: float = DEFAULT_LEARNING_RATE, batch_size: int = DEFAULT_BATCH_SIZE,
                    seed: int = 0, train_others: bool = True) -> RefineReport:
    """Refines `models`' weights in place for int8 conversion (see the module docstring).

    Args:
        models: the Keras models `forward` runs (e.g. a `TFLitePart`'s trackables).
        forward: callable(dict of input tensors with a batch axis) -> output tensor, through
            `models` in inference mode.
        inputs: dict of numpy arrays with equal first dimensions (training inputs); the last
            `batch_size * 4` rows (at most a quarter) are held out for the report.
        steps: optimizer steps; 0 only rounds the kernels.
        learning_rate: Adam's; weights move by about this much per step, so it is small
            against a quantization step (max |w| / 127, ~1e-3 for N(0, 0.02) kernels).
        batch_size: rows per step.
        seed: row sampling.
        train_others: also train the unquantized variables (biases, batch-norm scale/shift).

    Every tenth of the run the held-out rows are scored (MSE to the float model, kernels
    rounded) and the best weights so far are kept, the plain rounding (step 0) included, so
    refinement never ends worse than post-training rounding on those rows.

    Returns:
        a `RefineReport`. The models are left holding the best refined weights, kernels already
        on the int8 grid (so the converter's rounding reproduces them exactly).
    """
    import keras
    import tensorflow as tf

    rows = _check(steps, learning_rate, batch_size, inputs)
    held = min(4 * batch_size, rows // 4)
    train = {k: np.asarray(v)[:-held] for k, v in inputs.items()}
    valid = {k: np.asarray(v)[-held:] for k, v in inputs.items()}
    kernels = quantizable_kernels(models)
    kernel_ids = {id(k) for k, _ in kernels}
    others = [v for m in models for v in m.trainable_variables if id(v) not in kernel_ids] if train_others else []
    target_fn = tf.function(forward)
    train_targets = np.concatenate([target_fn({k: v[i:i + 256] for k, v in train.items()}).numpy()
                                    for i in range(0, rows - held, 256)])
    valid_target = target_fn(valid).numpy()
    shadows = [keras.Variable(np.asarray(k.numpy()), name=f"int8_shadow_{i}") for i, (k, _) in enumerate(kernels)]
    optimizer = keras.optimizers.Adam(learning_rate)
    optimizer.build(shadows + others)

    @tf.function
    def round_kernels():
        for (kernel, axis), shadow in zip(kernels, shadows):
            kernel.assign(fake_quantize(shadow.value, axis))

    @tf.function
    def step(batch, target):
        round_kernels()
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(forward(batch) - target))
        # Straight-through: the gradient at the rounded kernel updates its float shadow.
        grads = tape.gradient(loss, [k for k, _ in kernels] + others)
        # Kernels the output does not depend on (e.g. a tree generator's lower-scale heads) get None.
        optimizer.apply_gradients([(g, v) for g, v in zip(grads, shadows + others) if g is not None])
        return loss

    def held_out():
        round_kernels()
        diff = np.abs(target_fn(valid).numpy() - valid_target)
        return float(np.mean(np.square(diff))), float(diff.max()), float(diff.mean())

    def snapshot():
        return [np.array(v.numpy()) for v in shadows + others]

    start = time.time()
    before = best = held_out()
    best_weights = snapshot()
    rng = np.random.default_rng(seed)
    check_every = max(steps // 10, 1)
    for i in range(1, steps + 1):
        idx = rng.choice(len(train_targets), batch_size, replace=False)
        step({k: v[idx] for k, v in train.items()}, train_targets[idx])
        if i % check_every == 0 or i == steps:
            score = held_out()
            if score[0] < best[0]:
                best, best_weights = score, snapshot()
    for variable, value in zip(shadows + others, best_weights):
        variable.assign(value)
    round_kernels()
    return RefineReport(steps, time.time() - start, len(kernels), before[1], best[1], before[2], best[2],
                        before[0], best[0])


@contextlib.contextmanager
def int8_refined(models, forward, inputs: dict, **kwargs):
    """Runs `refine_for_int8` and restores every variable of `models` on exit; yields the report."""
    saved = [(v, np.array(v.numpy())) for m in models for v in m.variables]
    try:
        yield refine_for_int8(models, forward, inputs, **kwargs)
    finally:
        for variable, value in saved:
            variable.assign(value)
