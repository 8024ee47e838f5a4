"""Weight initialisers shared by the DCGAN-family models (N(0, 0.02) as in dcgan.torch)."""

import keras


def conv_init(seed=None):
    return keras.initializers.RandomNormal(0.0, 0.02, seed=seed)


def gamma_init(seed=None):
    return keras.initializers.RandomNormal(1.0, 0.02, seed=seed)


def batch_norm(synchronized: bool = False, **kwargs):
    """BatchNormalization with the DCGAN gamma init; `synchronized` for tf.distribute."""
    return keras.layers.BatchNormalization(
        momentum=0.9, epsilon=1e-5, gamma_initializer=gamma_init(), synchronized=synchronized, **kwargs)
