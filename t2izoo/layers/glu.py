"""Gated linear unit over the channel axis (StackGAN++/AttnGAN's `GLU`)."""

import keras


class GLU(keras.layers.Layer):
    """x[..., :C/2] * sigmoid(x[..., C/2:]): halves the last axis.

    StackGAN++ and AttnGAN use it in place of ReLU after every batch norm of the generator
    (and to split the conditioning-augmentation output).

    Args:
        axis: the axis to split (the channel axis, -1).

    Inputs: [..., 2C]; output [..., C].

    Example:
        >>> GLU()(keras.ops.ones((2, 4, 4, 8))).shape
        (2, 4, 4, 4)

    Reference: Dauphin et al., "Language Modeling with Gated Convolutional Networks", ICML 2017,
    Eq. 1; hanzhanggit/StackGAN-v2 code/model.py `GLU`.
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, x):
        channels = x.shape[self.axis]
        if channels is None or channels % 2:
            raise ValueError(f"GLU needs an even, known size on axis {self.axis}; got {channels}")
        value, gate = keras.ops.split(x, 2, axis=self.axis)
        return value * keras.ops.sigmoid(gate)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        shape[self.axis] = None if shape[self.axis] is None else shape[self.axis] // 2
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
