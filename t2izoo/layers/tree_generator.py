"""Base class of the tree generators (StackGAN++, AttnGAN): arguments, CA, image heads, scales.

Written for extension: a family builds `self.initial` (`InitialStage`) and its refinement stages,
then calls `add_image_heads()`, and implements `call` (see t2izoo/models/stackgan_v2/generator.py
and t2izoo/models/attngan/generator.py).
"""

import keras
from keras import layers

from t2izoo.layers.conditioning_augmentation import ConditioningAugmentation
from t2izoo.layers.init import conv_init


class TreeGenerator(keras.Model):
    """What StackGAN++'s and AttnGAN's generators share: arguments, CA, image heads, scales.

    Subclasses build `self.initial` and their refinement stages, then `add_image_heads()` (last,
    so that the flat weight order that checkpoints list stays initial, stages, heads), and
    implement `call`.

    Args: see `MultiStageGenerator`.
    """

    def __init__(self, base_size=64, num_stages=3, z_dim=100, condition_dim=128, ngf=64, num_residual=2,
                 sync_batch_norm=False, **kwargs):
        super().__init__(**kwargs)
        if base_size < 8 or base_size & (base_size - 1):
            raise ValueError(f"base_size must be a power of two >= 8, got {base_size}")
        if num_stages < 1:
            raise ValueError(f"num_stages must be >= 1, got {num_stages}")
        self.base_size = base_size
        self.num_stages = num_stages
        self.z_dim = z_dim
        self.condition_dim = condition_dim
        self.ngf = ngf
        self.num_residual = num_residual
        self.sync_batch_norm = sync_batch_norm
        self.ca = ConditioningAugmentation(condition_dim, gated=True)

    def add_image_heads(self):
        """One bias-free conv3x3 -> RGB head per scale (tanh is applied in `call`)."""
        self.image_heads = [layers.Conv2D(3, 3, padding="same", use_bias=False, kernel_initializer=conv_init())
                            for _ in range(self.num_stages)]

    @property
    def image_sizes(self):
        return tuple(self.base_size * 2 ** i for i in range(self.num_stages))

    def get_config(self):
        return {**super().get_config(), "base_size": self.base_size, "num_stages": self.num_stages,
                "z_dim": self.z_dim, "condition_dim": self.condition_dim, "ngf": self.ngf,
                "num_residual": self.num_residual, "sync_batch_norm": self.sync_batch_norm}
