"""Runs written before the family layout (t2izoo 0.1: tiny GAN-INT-CLS and AttnGAN runs trained by
that version, checkpoint and config as it wrote them) load unchanged and draw the very images
that version drew: the checkpoint's variable lists are the same, and the old config field names
(`learning_rate`, `beta_1`, `residual_blocks`, `damsm_dir`, `encoder_dir`) map to the new ones."""

import json
import pathlib
import shutil

import numpy as np
import pytest

from t2izoo import configs as config_lib
from t2izoo.generate import Text2Image
from t2izoo.models.attngan.config import AttnGanConfig

FIXTURES = pathlib.Path(__file__).parent / "fixtures" / "legacy_v0_1"
# What t2izoo 0.1's `Text2Image(...)(CAPTIONS, 2, seed=3)` returned for each run.
CAPTIONS = ["a large red circle in the center", "a small blue square on the left"]


@pytest.mark.parametrize("name", ["gan_int_cls", "attngan"])
def test_a_legacy_run_draws_the_images_it_drew(name, tmp_path):
    run = tmp_path / name
    shutil.copytree(FIXTURES / name, run)  # the text encoder comes from the run dir alone
    t2i = Text2Image.load(str(run))
    images = t2i(CAPTIONS, 2, seed=3)
    want = np.load(FIXTURES / "reference_images.npz")[name]
    assert images.shape == want.shape and images.std() > 1  # not a blank image
    np.testing.assert_array_equal(images, want)


def test_legacy_field_names_map_to_the_new_ones():
    stored = json.loads((FIXTURES / "attngan" / "config.json").read_text())
    assert {"learning_rate", "beta_1", "residual_blocks", "damsm_dir"} <= set(stored)
    config = config_lib.load_config(AttnGanConfig, str(FIXTURES / "attngan"))
    assert config.g_learning_rate == config.d_learning_rate == stored["learning_rate"]
    assert config.g_beta_1 == config.d_beta_1 == stored["beta_1"]
    assert config.num_residual == stored["residual_blocks"]
    assert config.text_encoder_dir == stored["damsm_dir"]
    # --override accepts the old names too, setting both sides.
    changed = config_lib.apply_overrides(config, ["learning_rate=0.001", "residual_blocks=3", "damsm_dir=runs/d"])
    assert (changed.g_learning_rate, changed.d_learning_rate, changed.num_residual) == (0.001, 0.001, 3)
    assert changed.text_encoder_dir == "runs/d"

