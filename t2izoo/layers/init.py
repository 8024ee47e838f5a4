"""Weight initialisers shared by the DCGAN-family models (N(0, 0.02) as in dcgan.torch)."""

import keras

from t2izoo.layers.global_batch_norm import GlobalBatchNormalization


def conv_init(seed=None):
    return keras.initializers.RandomNormal(0.0, 0.02, seed=seed)


def gamma_init(seed=None):
    return keras.initializers.RandomNormal(1.0, 0.02, seed=seed)


def batch_norm(synchronized: bool = False, **kwargs):
    """BatchNormalization with the DCGAN gamma init; `synchronized` for tf.distribute (global-batch
    statistics, `GlobalBatchNormalization`: the same variables)."""
    if synchronized:
        return GlobalBatchNormalization(momentum=0.9, epsilon=1e-5, gamma_initializer=gamma_init(), **kwargs)
    return keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, gamma_initializer=gamma_init(), **kwargs)


def orthogonal_init(model, seed: int = 0):
    """`GanRunConfig.weights_init="orthogonal"` ("normal" keeps the N(0, 0.02) kernels the layers
    are built with: dcgan.torch, icml2016, StackGAN's TF code). Re-draws, on a built model, what
    the official StackGAN-v2 / AttnGAN `weights_init` does: every conv and dense kernel orthogonal
    with gain 1 (PyTorch flattens a conv weight to (out, in*k*k), Keras to (k*k*in, out): the
    transpose, orthogonal alike), dense biases 0. Batch norm keeps what it is built with, which
    is already theirs: gamma ~ N(1, 0.02), beta 0.

    Reference: hanzhanggit/StackGAN-v2 code/trainer.py and taoxugit/AttnGAN code/miscc/utils.py
    `weights_init`.
    """
    orthogonal = keras.initializers.Orthogonal(gain=1.0, seed=keras.random.SeedGenerator(seed))
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            layer.kernel.assign(orthogonal(tuple(layer.kernel.shape), dtype=layer.kernel.dtype))
            if isinstance(layer, keras.layers.Dense) and layer.use_bias:
                layer.bias.assign(keras.ops.zeros_like(layer.bias))
