"""char-CNN-RNN pretraining (DS-SJE) under MirroredStrategy."""

import keras
import numpy as np
import pytest

from t2izoo.conditioning.char_cnn_rnn.trainer import SjeTrainer
from t2izoo.data.text import CHAR_LENGTH
from t2izoo.encoders.char_cnn_rnn import CharCnnRnnEncoder
from t2izoo.encoders.small_cnn import SmallImageEncoder
from t2izoo.testing import gan_checks

B, S, D = 8, 16, 16


def make_batch(rng, with_attributes=False):
    batch = {"chars": rng.integers(1, 40, (B, CHAR_LENGTH)).astype("int32"),
             f"image_{S}": rng.uniform(-1, 1, (B, S, S, 3)).astype("float32"),
             "class_ids": np.array([0, 1, 2, 3, 0, 1, 2, 4], np.int32)}
    if with_attributes:
        batch["attributes"] = rng.integers(0, 3, (B, 2, 5)).astype("int32")
    return batch


@pytest.mark.parametrize("negatives", ["class", "scene"])
def test_mirrored_step_equals_single_device(rng, negatives):
    """The SJE loss scores every image against every caption of the *global* batch and the image
    encoder's batch norm uses global statistics, so 2 replicas take the single-device step (SGD:
    Adam's first step is lr * sign(g), blind to a wrong scaling)."""

    def make():
        keras.utils.set_random_seed(11)
        trainer = SjeTrainer(CharCnnRnnEncoder(conv_channels=(8, 8, 8), rnn_dim=8, embedding_dim=D),
                             SmallImageEncoder(embedding_dim=D, widths=(8, 8)), image_size=S, negatives=negatives)
        trainer.compile(optimizer=keras.optimizers.SGD(0.05), jit_compile=False)
        return trainer

    gan_checks.check_mirrored_matches_single_seeded(make, make_batch(rng, negatives == "scene"))
