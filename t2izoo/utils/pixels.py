"""The one conversion from generator output to pixels."""

import keras
import numpy as np


def to_uint8(images):
    """Images in [-1, 1] -> uint8 round((x + 1) * 127.5), clipped, rounding half to even.

    Numpy (or uint8, returned as is) in, numpy out; a tensor in, a tensor out (traceable: the
    SavedModel signatures call it in the graph), so Python sampling and exports agree exactly.
    """
    if isinstance(images, np.ndarray) and images.dtype == np.uint8:
        return images
    pixels = keras.ops.cast(keras.ops.clip(keras.ops.round((images + 1.0) * 127.5), 0.0, 255.0), "uint8")
    return keras.ops.convert_to_numpy(pixels) if isinstance(images, np.ndarray) else pixels
