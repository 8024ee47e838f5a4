"""`GANTrainer` mechanics every family relies on: the EMA generator's decay rule and its sync."""

import numpy as np
import tensorflow as tf

from tests.models.test_gan_int_cls import make_batch, make_trainer


def test_ema_follows_its_decay_rule_with_warm_up(rng):
    """ema <- d * ema + (1 - d) * w with d = min(decay, (1 + t) / (10 + t)) at G step t."""
    trainer = make_trainer()
    trainer.build_from_batch({k: tf.constant(v) for k, v in make_batch(rng).items()})
    trainer.ema_decay = 0.9
    live = trainer.generator.trainable_variables
    for step in (0, 5, 1000):
        trainer.g_optimizer.iterations.assign(step)
        for v in live:
            v.assign(rng.normal(size=v.shape).astype("float32"))
        before = [np.array(e) for e in trainer.ema_weights]
        trainer.update_ema()
        d = min(0.9, (1.0 + step) / (10.0 + step))
        for ema, old, var in zip(trainer.ema_weights, before, live):
            np.testing.assert_allclose(np.array(ema), d * old + (1 - d) * np.array(var), rtol=1e-5, atol=1e-6)


def test_generate_uses_the_ema_weights_after_new_steps(rng):
    trainer = make_trainer()
    batch = make_batch(rng)
    trainer.build_from_batch({k: tf.constant(v) for k, v in batch.items()})
    noise = rng.normal(size=(2, 100)).astype("float32")
    conditioning = {"embedding": batch["embedding"][:2]}
    first = np.array(trainer.generate(conditioning, noise))
    trainer.train_step({k: tf.constant(v) for k, v in batch.items()})  # a G step: the EMA moved
    second = np.array(trainer.generate(conditioning, noise))
    for ema, synced in zip(trainer.ema_weights, trainer.ema_generator.trainable_variables):
        np.testing.assert_array_equal(np.array(ema), np.array(synced))
    assert np.abs(first - second).max() > 0
