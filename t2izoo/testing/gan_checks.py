"""Shared checks for model tests (the keras-hub `run_layer_test` idea), so each test is short.

    check_config_round_trip(model, inputs)
    check_train_step(make_trainer, batch)        # G and D move; D frozen in the G update; finite
    check_mirrored_matches_single(make_trainer, batch)
    check_mirrored_matches_single_seeded(make_trainer, batch)   # any trainer, same seeded init
    check_one_pass_matches_two_passes(make_trainer, batch)      # shared G forward == two passes
"""

from __future__ import annotations

import functools

import numpy as np
import tensorflow as tf


def weights_of(variables) -> list:
    return [np.array(v.numpy() if hasattr(v, "numpy") else v) for v in variables]


def max_change(before, after) -> float:
    return max((float(np.max(np.abs(a - b))) for a, b in zip(before, after) if a.size), default=0.0)


def check_config_round_trip(model, inputs, atol=1e-6):
    """from_config(get_config()) rebuilds the same architecture: same output with copied weights."""
    out = model(inputs, training=False)
    clone = type(model).from_config(model.get_config())
    clone(inputs, training=False)
    clone.set_weights(model.get_weights())
    # Nested outputs (e.g. per-scale images, CA mean and log sigma) are compared leaf by leaf.
    for got, want in zip(tf.nest.flatten(clone(inputs, training=False)), tf.nest.flatten(out)):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), atol=atol)
    assert clone.get_config() == model.get_config()
    return out


def check_train_step(trainer, batch, min_change=1e-7):
    """One `train_step`: G and D weights change, D's trainable weights stay put during the G
    update, every reported value is finite. Returns the step's logs."""
    batch = {k: tf.convert_to_tensor(v) for k, v in batch.items()}
    if not trainer.built:
        trainer.build_from_batch(batch)
    noise = trainer.sample_noise(batch)

    d_before = weights_of(trainer.discriminator_variables())
    g_before = weights_of(trainer.generator_variables())
    trainer._apply(trainer.generator_loss, trainer.generator_variables(), trainer.g_optimizer, batch, noise)
    assert max_change(d_before, weights_of(trainer.discriminator_variables())) == 0.0, \
        "discriminator weights moved during the generator update"
    assert max_change(g_before, weights_of(trainer.generator_variables())) > min_change, \
        "generator update did not change G"

    d_before = weights_of(trainer.discriminator_variables())
    g_before = weights_of(trainer.generator_variables())
    logs = trainer.train_step(batch)
    assert max_change(d_before, weights_of(trainer.discriminator_variables())) > min_change, "D did not move"
    assert max_change(g_before, weights_of(trainer.generator_variables())) > min_change, "G did not move"
    logs = {k: float(v) for k, v in logs.items()}
    assert all(np.isfinite(v) for v in logs.values()), logs
    return logs


def mirrored_strategy(devices=("/cpu:0", "/cpu:1")):
    """One MirroredStrategy per device set for the whole process (`mirrored_strategy()` and
    `mirrored_strategy(("/cpu:0", "/cpu:1"))` are the same one).

    Separate strategy instances in one process reuse collective instance keys, so a second
    one's synchronised batch norm can meet the first one's all-reduce ("Shape mismatch in the
    collective instance").
    """
    return _mirrored_strategy(tuple(devices))


@functools.lru_cache(maxsize=None)
def _mirrored_strategy(devices):
    return tf.distribute.MirroredStrategy(list(devices))


def _single_and_mirrored(make_trainer, batch, devices):
    """(batch as tensors, a trainer built on one device, one built under MirroredStrategy)."""
    batch = {k: tf.convert_to_tensor(v) for k, v in batch.items()}
    single = make_trainer()
    single.build_from_batch(batch)
    with mirrored_strategy(tuple(devices)).scope():
        mirrored = make_trainer()
        mirrored.build_from_batch(batch)
    return batch, single, mirrored


def check_mirrored_matches_single(make_trainer, batch, atol=2e-5, devices=("/cpu:0", "/cpu:1")):
    """One step on a global batch under MirroredStrategy == one step on one device.

    `make_trainer()` must build and compile a trainer (called inside each strategy's scope);
    the batch must carry its own `noise` so both runs see the same noise. Models should use
    synchronised batch norm (or none): per-replica statistics legitimately differ.
    """
    batch, single, mirrored = _single_and_mirrored(make_trainer, batch, devices)
    for src, dst in ((single.generator, mirrored.generator), (single.discriminator, mirrored.discriminator)):
        for a, b in zip(dst.weights, src.weights):
            a.assign(b.numpy())
    data = tf.data.Dataset.from_tensors(batch)
    single.fit(data, epochs=1, verbose=0)
    mirrored.fit(data, epochs=1, verbose=0)
    for name in ("generator_variables", "discriminator_variables"):
        diff = max_change(weights_of(getattr(single, name)()), weights_of(getattr(mirrored, name)()))
        assert diff < atol, f"{name}: mirrored differs from single-device by {diff}"
    return single, mirrored


def two_pass_step(trainer, batch):
    """The reference step `GANTrainer.train_step` replaces: D's update, then G's, each loss running
    the generator itself (no `shared_forward` cache), with the same noise."""
    noise = trainer.sample_noise(batch)
    trainer._apply(trainer.discriminator_loss, trainer.discriminator_variables(), trainer.d_optimizer, batch, noise)
    trainer._apply(trainer.generator_loss, trainer.generator_variables(), trainer.g_optimizer, batch, noise)


def check_one_pass_matches_two_passes(make_trainer, batch, atol=2e-5):
    """One `train_step` (one generator pass shared by both losses) gives the D and G updates of
    `two_pass_step` (a generator pass in each loss), traced as training runs it. The batch must
    carry its `noise`. Returns (one-pass trainer, two-pass trainer)."""
    batch = {k: tf.convert_to_tensor(v) for k, v in batch.items()}
    one, two = make_trainer(), make_trainer()
    for trainer in (one, two):
        trainer.build_from_batch(batch)
    for src, dst in ((one.generator, two.generator), (one.discriminator, two.discriminator)):
        for a, b in zip(dst.weights, src.weights):
            a.assign(b.numpy())
    before = weights_of(one.generator_variables()) + weights_of(one.discriminator_variables())
    tf.function(one.train_step)(batch)
    tf.function(functools.partial(two_pass_step, two))(batch)
    assert max_change(before, weights_of(one.generator_variables()) + weights_of(one.discriminator_variables())) \
        > 10 * atol, "the step did not move the weights"
    for name in ("generator_variables", "discriminator_variables"):
        diff = max_change(weights_of(getattr(one, name)()), weights_of(getattr(two, name)()))
        assert diff < atol, f"{name}: the one-pass step differs from two passes by {diff}"
    return one, two


def embedding_batch(rng, batch_size: int, image_sizes, text_dim: int, noise_width: int | None = None) -> dict:
    """A random training batch of a char-CNN-RNN-conditioned trainer: `index`, real images in
    [-1, 1] at every size, `embedding` and `wrong_embedding` [B, text_dim], `noise` when a
    width is given (so two runs can see the same noise), and `wrong_image_<s>` (mismatched real
    images, icml2016's wrong pair)."""
    batch = {"index": np.arange(batch_size, dtype=np.int32)}
    for s in image_sizes:
        batch[f"image_{s}"] = rng.uniform(-1, 1, (batch_size, s, s, 3)).astype("float32")
    batch["embedding"] = rng.normal(size=(batch_size, text_dim)).astype("float32")
    batch["wrong_embedding"] = rng.normal(size=(batch_size, text_dim)).astype("float32")
    if noise_width:
        batch["noise"] = rng.normal(size=(batch_size, noise_width)).astype("float32")
    for s in image_sizes:  # drawn last: the draws above stay as they were
        batch[f"wrong_image_{s}"] = rng.uniform(-1, 1, (batch_size, s, s, 3)).astype("float32")
    return batch


def word_token_batch(rng, batch_size: int, image_size: int, max_words: int, vocab_size: int,
                     noise_width: int | None = None) -> dict:
    """A random training batch of a word-id-conditioned manipulation trainer (SISGAN, TAGAN):
    `index`, real images in [-1, 1], `tokens`/`lengths` and mismatched `wrong_tokens`/
    `wrong_lengths` (the lengths reversed), and `noise` when a width is given."""
    lengths = rng.integers(1, max_words + 1, batch_size).astype("int32")
    batch = {"index": np.arange(batch_size, dtype=np.int32),
             f"image_{image_size}": rng.uniform(-1, 1, (batch_size, image_size, image_size, 3)).astype("float32"),
             "tokens": rng.integers(2, vocab_size, (batch_size, max_words)).astype("int32"), "lengths": lengths,
             "wrong_tokens": rng.integers(2, vocab_size, (batch_size, max_words)).astype("int32"),
             "wrong_lengths": lengths[::-1].copy()}
    if noise_width:
        batch["noise"] = rng.normal(size=(batch_size, noise_width)).astype("float32")
    return batch


def check_mirrored_matches_single_seeded(make_trainer, batch, atol=2e-5, devices=("/cpu:0", "/cpu:1")):
    """`check_mirrored_matches_single` for any trainer: `make_trainer()` must give both sides the
    same initial weights (seed it); every trainable weight is compared after one step each."""
    batch, single, mirrored = _single_and_mirrored(make_trainer, batch, devices)
    before = weights_of(single.trainable_variables)
    assert max_change(before, weights_of(mirrored.trainable_variables)) == 0.0, "initial weights differ"
    data = tf.data.Dataset.from_tensors(batch)
    single.fit(data, epochs=1, verbose=0)
    mirrored.fit(data, epochs=1, verbose=0)
    after = weights_of(single.trainable_variables)
    assert max_change(before, after) > 10 * atol, "the step did not move the weights"
    diff = max_change(after, weights_of(mirrored.trainable_variables))
    assert diff < atol, f"mirrored differs from single-device by {diff}"
    return single, mirrored
