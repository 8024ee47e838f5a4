"""Inception-v3 image encoders built from a local weights file (never downloaded)."""

import keras

from t2izoo.errors import DataError
from t2izoo.metrics.features import resolve_inception_weights

INCEPTION_SIZE = 299
# Keras layer names of the TF-slim end points the papers use.
MIXED_6E = "mixed7"  # 17x17x768 region features (AttnGAN/DAMSM)
POOL = "avg_pool"  # 2048-d global features


def load_inception_v3(weights_path=None) -> keras.Model:
    """ImageNet Inception-v3 (with its classification top) from a local Keras weights file."""
    path = resolve_inception_weights(weights_path)
    model = keras.applications.InceptionV3(weights=None, include_top=True, classifier_activation=None)
    try:
        model.load_weights(path)
    except Exception as err:  # h5py/keras raise many types for a wrong file
        raise DataError(f"could not load Inception-v3 weights from {path}: {err}") from None
    return model


class InceptionImageEncoder(keras.Model):
    """Frozen Inception-v3 pool features (2048) + a trained linear map to `embedding_dim`.

    Args:
        embedding_dim: output size.
        weights_path: Keras Inception-v3 weights file (or `$T2IZOO_INCEPTION_WEIGHTS`).

    Inputs: images [B, S, S, 3] in [-1, 1] (resized bilinearly to 299); output [B, embedding_dim].
    """

    def __init__(self, embedding_dim=1024, weights_path=None, **kwargs):
        super().__init__(**kwargs)
        self.embedding_dim = embedding_dim
        self.weights_path = weights_path
        base = load_inception_v3(weights_path)
        self.backbone = keras.Model(base.inputs, base.get_layer(POOL).output)
        self.backbone.trainable = False
        self.projection = keras.layers.Dense(embedding_dim)

    def call(self, images, training=False):
        images = keras.ops.image.resize(images, (INCEPTION_SIZE, INCEPTION_SIZE), interpolation="bilinear")
        return self.projection(self.backbone(images, training=False))

    def get_config(self):
        return {**super().get_config(), "embedding_dim": self.embedding_dim, "weights_path": self.weights_path}
