"""One discriminator per generator scale, called together (StackGAN++, AttnGAN)."""

import keras

from t2izoo.layers.stage_discriminator import StageDiscriminator  # noqa: F401 (registered for from_config)


@keras.saving.register_keras_serializable(package="t2izoo")
class MultiScaleDiscriminator(keras.Model):
    """One `StageDiscriminator` per scale, updated together (StackGAN++ `netsD`).

    The official code gives each D its own Adam; as each D's loss depends only on its own
    weights and all use the same hyper-parameters, one Adam over their union is the same update.

    Args:
        discriminators: list of per-scale discriminators, smallest scale first.

    Call: (list of images, one per scale, condition [B, N]); returns the list of their outputs.

    Example:
        >>> d = MultiScaleDiscriminator([StageDiscriminator(16, 4), StageDiscriminator(32, 4)])
        >>> len(d(([keras.ops.zeros((2, 16, 16, 3)), keras.ops.zeros((2, 32, 32, 3))],
        ...        keras.ops.zeros((2, 8)))))
        2
    """

    def __init__(self, discriminators, **kwargs):
        super().__init__(**kwargs)
        self.discriminators = list(discriminators)

    def call(self, inputs, training=False):
        images, condition = inputs
        return [d((x, condition), training=training) for d, x in zip(self.discriminators, images)]

    def get_config(self):
        return {**super().get_config(),
                "discriminators": [keras.saving.serialize_keras_object(d) for d in self.discriminators]}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["discriminators"] = [keras.saving.deserialize_keras_object(d) for d in config["discriminators"]]
        return cls(**config)
