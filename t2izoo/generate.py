"""Generate images from captions with a trained run (EMA generator).

    python -m t2izoo.generate --model_dir=runs/gan_int_cls_shapes --caption="a large red circle" \
        --num=8 --out=out.png
"""

from __future__ import annotations

import json
import os

import numpy as np
import tensorflow as tf
from absl import app, flags

from t2izoo.configs import base as config_lib
from t2izoo.data import text as text_lib
from t2izoo.errors import ConfigError
from t2izoo.trainers import run_loop
from t2izoo.utils.cli import run_main
from t2izoo.utils.grid import save_captioned_grid


def recipe_for(model_dir: str):
    """(recipe, config) of the run in `model_dir`, from the class named in its config.json."""
    from t2izoo.configs.attngan import AttnGanConfig, DamsmConfig
    from t2izoo.configs.gan_int_cls import CharCnnRnnConfig, GanIntClsConfig
    from t2izoo.configs.stackgan import StackGanConfig, StackGanV2Config
    from t2izoo.recipes.attngan import AttnGanRecipe
    from t2izoo.recipes.gan_int_cls import GanIntClsRecipe
    from t2izoo.recipes.stackgan import StackGanRecipe
    from t2izoo.recipes.stackgan_v2 import StackGanV2Recipe

    registry = {GanIntClsConfig.__name__: (GanIntClsConfig, GanIntClsRecipe),
                StackGanConfig.__name__: (StackGanConfig, StackGanRecipe),
                StackGanV2Config.__name__: (StackGanV2Config, StackGanV2Recipe),
                AttnGanConfig.__name__: (AttnGanConfig, AttnGanRecipe)}
    path = os.path.join(model_dir, config_lib.CONFIG_FILENAME)
    if not os.path.exists(path):
        raise ConfigError(f"{model_dir} holds no {config_lib.CONFIG_FILENAME}: not a t2izoo run directory")
    with open(path) as f:
        name = json.load(f).get("class")
    if name in (CharCnnRnnConfig.__name__, DamsmConfig.__name__):
        raise ConfigError(f"{model_dir} is a text-encoder pretraining run, not a generator")
    if name not in registry:
        raise ConfigError(f"{model_dir}: no generator recipe for config class {name!r}")
    config_cls, recipe_cls = registry[name]
    return recipe_cls(), config_lib.load_config(config_cls, model_dir)


class Text2Image:
    """A restored run that turns captions into images.

    Example:
        >>> t2i = Text2Image.load("runs/gan_int_cls_shapes")
        >>> images = t2i(["a large red circle in the center"], num_per_caption=4, seed=0)
    """

    def __init__(self, recipe, config, trainer, context, use_ema: bool = True):
        self.use_ema = use_ema
        self.recipe = recipe
        self.config = config
        self.trainer = trainer
        self.vocab = context["vocab"]
        self.context = context

    @classmethod
    def load(cls, model_dir: str, checkpoint_path: str | None = None, use_ema: bool = True) -> "Text2Image":
        recipe, config = recipe_for(model_dir)
        trainer, context = run_loop.restore_for_inference(recipe, config, model_dir, checkpoint_path)
        return cls(recipe, config, trainer, context, use_ema)

    def check_captions(self, captions) -> list:
        checked = []
        for i, caption in enumerate(captions):
            caption = text_lib.check_caption(caption, where=f"caption {i}")
            self.vocab.encode_for_generation(caption, self.config.max_words, where=f"caption {i}")
            checked.append(caption)
        return checked

    def __call__(self, captions, num_per_caption: int = 1, seed: int = 0) -> np.ndarray:
        """uint8 images [len(captions) * num_per_caption, S, S, 3], captions repeated in order."""
        captions = self.check_captions(captions)
        conditioning = self.recipe.conditioning(self.trainer, captions)
        conditioning = {k: tf.repeat(v, num_per_caption, axis=0) for k, v in conditioning.items()}
        n = len(captions) * num_per_caption
        # z and, for CA models, the CA noise too: each image then depends only on (caption, seed),
        # not on its position in the batch, and matches the exported model's seeded signature.
        noise_width = getattr(self.trainer, "noise_width", None)
        width = noise_width() if noise_width else self.config.z_dim
        noise = tf.constant(np.random.default_rng(seed).normal(size=(n, width)), tf.float32)
        images = self.trainer.generate(conditioning, noise, use_ema=self.use_ema).numpy()
        return np.clip(np.rint((images + 1.0) * 127.5), 0, 255).astype(np.uint8)


FLAGS = flags.FLAGS


def main(argv):
    del argv

    def _run():
        t2i = Text2Image.load(FLAGS.model_dir)
        images = t2i(FLAGS.caption, FLAGS.num, FLAGS.seed)
        cols = min(FLAGS.num, 8)
        rows_captions = [c for c in FLAGS.caption for _ in range(-(-FLAGS.num // cols))]
        save_captioned_grid(images, rows_captions, cols, FLAGS.out)
        print(f"wrote {FLAGS.out}: {len(images)} images at {images.shape[1]} px")

    run_main(_run)


if __name__ == "__main__":
    flags.DEFINE_string("model_dir", None, "Run directory of a trained generator.", required=True)
    flags.DEFINE_multi_string("caption", None, "Caption (repeatable).", required=True)
    flags.DEFINE_integer("num", 8, "Images per caption.", lower_bound=1, upper_bound=256)
    flags.DEFINE_integer("seed", 0, "Noise seed.")
    flags.DEFINE_string("out", "out.png", "Output PNG grid.")
    app.run(main)
