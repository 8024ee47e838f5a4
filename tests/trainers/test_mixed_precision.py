"""Mixed-precision training (`mixed_precision=bfloat16|float16`, `t2izoo.trainers.precision`)."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from t2izoo import configs as config_lib
from t2izoo.errors import ConfigError
from t2izoo.testing import tiny
from t2izoo.trainers import run_loop
from t2izoo.trainers.precision import loss_scaled, training_precision
from tests.models import test_attngan as attngan
from tests.models import test_stackgan_v2 as stackgan_v2


def _built(precision, batch, family=stackgan_v2):
    """A tiny StackGAN++ (or AttnGAN) trainer built in `precision` (float16: loss-scaled Adam)."""
    with training_precision(precision):
        trainer = family.make_trainer(
            # float16: a scale whose first step does not overflow, so that both sides take it.
            optimizer=lambda: loss_scaled(keras.optimizers.Adam(2e-4, 0.5, 0.999), precision, initial_scale=64.0))
        trainer.build_from_batch(batch)
    return trainer


def _step(trainer, batch) -> dict:
    return {k: float(v) for k, v in tf.function(trainer.train_step)(batch).items()}


@pytest.mark.parametrize("family, precision", [(stackgan_v2, "bfloat16"), (stackgan_v2, "float16"),
                                               (attngan, "bfloat16")], ids=["stackgan_v2-bf16", "stackgan_v2-f16",
                                                                            "attngan-bf16"])
def test_a_mixed_precision_step_is_finite_and_close_to_float32(family, precision, rng):
    # AttnGAN: word attention, DAMSM terms through 16-bit encoders, the KL of 16-bit CA outputs.
    batch = {k: tf.constant(v) for k, v in family.make_batch(rng, noise=True).items()}
    reference, trainer = _built("none", batch, family), _built(precision, batch, family)
    start = reference.get_weights()
    trainer.set_weights(start)
    want, got = _step(reference, batch), _step(trainer, batch)
    conv = next(layer for layer in trainer.generator._flatten_layers() if isinstance(layer, keras.layers.Conv2D))
    assert conv.compute_dtype == precision and conv.kernel.dtype == "float32"
    assert all(v.dtype == "float32" for v in trainer.generator.weights + trainer.discriminator.weights)
    assert all(np.isfinite(v) for v in got.values()), got
    for name in ("d_loss", "g_loss"):  # the losses of the same weights and batch, 16-bit maths
        assert abs(got[name] - want[name]) < 0.05 * abs(want[name]) + 0.02, (name, got[name], want[name])
    # Adam's first step is about lr * sign(g): the 16-bit gradients point the same way for most weights.
    moved = [np.sign(a - s) == np.sign(b - s) for a, b, s in
             zip(trainer.get_weights(), reference.get_weights(), start) if a.size > 8]
    agree = np.mean(np.concatenate([m.ravel() for m in moved]))
    assert agree > 0.8, agree
    assert int(trainer.d_optimizer.iterations) == int(trainer.g_optimizer.iterations) == 1  # not skipped
    if precision == "float16":
        assert isinstance(trainer.g_optimizer, keras.optimizers.LossScaleOptimizer)
        assert trainer.checkpoint_optimizers() == [trainer.g_optimizer.inner_optimizer,
                                                   trainer.d_optimizer.inner_optimizer]


def test_the_ema_generator_computes_in_float32(rng):
    batch = {k: tf.constant(v) for k, v in stackgan_v2.make_batch(rng, noise=True).items()}
    trainer = _built("bfloat16", batch)
    _step(trainer, batch)
    ema = trainer.sync_ema()
    assert ema is not trainer.generator
    assert {layer.compute_dtype for layer in ema._flatten_layers() if layer.weights} == {"float32"}
    conditioning = trainer.batch_conditioning(batch)
    assert trainer.generate(conditioning, batch["noise"]).dtype == tf.float32


def test_a_bfloat16_run_resumes_in_float32(tiny_run, tmp_path):
    encoder = tiny_run("char_cnn_rnn")  # the session's shared tiny encoder run (read only)
    config = tiny.tiny_config("gan_int_cls", encoder, max_steps=2, mixed_precision="bfloat16")
    run_dir = str(tmp_path / "gan")
    run_loop.train_config(config, run_dir, verbose=0)
    assert json.load(open(os.path.join(run_dir, "config.json")))["mixed_precision"] == "bfloat16"
    resumed = run_loop.train_config(config_lib.apply_overrides(config, ["mixed_precision=none", "max_steps=4"]),
                                    run_dir, verbose=0)
    assert int(resumed.g_optimizer.iterations) == 4  # restored at 2, two more steps
    assert {layer.compute_dtype for layer in resumed.generator._flatten_layers() if layer.weights} == {"float32"}
    progress = [json.loads(line) for line in open(os.path.join(run_dir, "progress.jsonl"))]
    assert [p["step"] for p in progress] == [2, 4]
    assert all(np.isfinite(w).all() for w in resumed.get_weights())


def test_unknown_or_unscaled_precisions_are_one_clear_error():
    with pytest.raises(ConfigError, match="expected one of none, bfloat16, float16"):
        tiny.tiny_config("gan_int_cls", mixed_precision="float8")
    with pytest.raises(ConfigError, match="only the GAN recipes"):
        tiny.tiny_config("char_cnn_rnn", mixed_precision="float16")
    assert tiny.tiny_config("char_cnn_rnn", mixed_precision="bfloat16").mixed_precision == "bfloat16"
