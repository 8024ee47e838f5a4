"""GlobalBatchNormalization: one device = plain batch norm; 2 replicas = the global batch's."""

import keras
import numpy as np
import tensorflow as tf

from t2izoo.layers.global_batch_norm import GlobalBatchNormalization
from t2izoo.testing import gan_checks


def _features(rng):
    # ReLU-like features: a large mean against a small spread, where a one-pass variance loses digits.
    return (50.0 + 0.05 * rng.standard_normal((8, 4, 4, 16))).astype("float32")


def _exact(x, epsilon=1e-3):
    x = x.astype(np.float64)
    mean, var = x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))
    return (x - mean) / np.sqrt(var + epsilon), mean, var


def test_on_one_device_it_is_batch_norm(rng):
    x = _features(rng)
    exact, mean, var = _exact(x)
    ours = GlobalBatchNormalization()
    np.testing.assert_allclose(ours(x, training=True), exact, atol=2e-3)
    np.testing.assert_allclose(ours.moving_mean, 0.01 * mean, rtol=1e-5)  # momentum 0.99 from 0
    np.testing.assert_allclose(ours.moving_variance, 0.99 + 0.01 * var, rtol=1e-5)
    assert GlobalBatchNormalization.from_config(ours.get_config()).synchronized


def test_two_replicas_normalise_with_the_global_batch_statistics(rng):
    x = _features(rng)
    reference = _exact(x)[0]
    strategy = gan_checks.mirrored_strategy(("/cpu:0", "/cpu:1"))

    def outputs(layer_cls):
        with strategy.scope():
            layer = layer_cls(synchronized=True) if layer_cls is keras.layers.BatchNormalization else layer_cls()
            layer.build(x.shape)
        dataset = strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensors(x))
        step = tf.function(lambda b: strategy.run(lambda x: layer(x, training=True), args=(b,)))
        per_replica = step(next(iter(dataset)))
        return np.concatenate([v.numpy() for v in strategy.experimental_local_results(per_replica)])

    ours = np.max(np.abs(outputs(GlobalBatchNormalization) - reference))
    keras_sync = np.max(np.abs(outputs(keras.layers.BatchNormalization) - reference))
    print(f"max |error| vs float64: ours {ours:.2e}, Keras synchronized {keras_sync:.2e}")
    assert ours < 2e-3, ours
    assert keras_sync > 10 * ours, (keras_sync, ours)  # what the second pass is for
