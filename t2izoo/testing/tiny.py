"""Tiny configs for fast end-to-end tests (16 px, 4-8 channels, a few dozen images)."""

import dataclasses

from t2izoo.configs.gan_int_cls import CHAR_CNN_RNN_PRESETS, GAN_INT_CLS_PRESETS

TINY_DATA = dict(shapes_train=48, shapes_test=20, batch_size=8, log_every=2, seed=0)


def tiny_char_cnn_rnn(**changes):
    return dataclasses.replace(CHAR_CNN_RNN_PRESETS["shapes"], conv_channels=(8, 8, 8), rnn_dim=8, embedding_dim=16,
                               max_steps=3, checkpoint_every=0, **{**TINY_DATA, **changes})


def tiny_gan_int_cls(encoder_dir: str, **changes):
    base = dict(TINY_DATA, encoder_dir=encoder_dir, image_size=16, ngf=4, ndf=4, text_proj_dim=8, max_steps=4,
                checkpoint_every=2, sample_every=2)
    return dataclasses.replace(GAN_INT_CLS_PRESETS["shapes"], **{**base, **changes})
