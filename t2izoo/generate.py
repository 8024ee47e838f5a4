"""Generate images from captions with a trained run (EMA generator).

    python -m t2izoo.generate --model_dir=runs/gan_int_cls_shapes --caption="a large red circle" \
        --num=8 --out=out.png
"""

from __future__ import annotations

if __name__ == "__main__":  # first, before TensorFlow is imported: keep its start-up logging quiet
    from t2izoo.utils import tf_logging

    tf_logging.quiet()

import numpy as np
import tensorflow as tf
from absl import app, flags

from t2izoo import configs as config_lib
from t2izoo import registry
from t2izoo.data import text as text_lib
from t2izoo.trainers.checkpointing import restore_for_inference
from t2izoo.errors import ConfigError
from t2izoo.utils.cli import parse_flags, run_main, writing
from t2izoo.utils.grid import save_captioned_grid
from t2izoo.utils.pixels import to_uint8


def recipe_for(model_dir: str):
    """(recipe, config) of the generator run in `model_dir`, from the family its config.json names."""
    family = registry.family_of_run(model_dir)
    return family.make_recipe(), config_lib.load_config(family.config_class, model_dir)


class RestoredRun:
    """A trained run restored for inference (`load`): its recipe, config, trainer, vocabulary and
    conditioner; `Text2Image` and `t2izoo.manipulate.ImageManipulator` are the two kinds."""

    def __init__(self, recipe, config, trainer, context, use_ema: bool = True, model_dir: str = ""):
        self.use_ema = use_ema
        self.recipe = recipe
        self.config = config
        self.trainer = trainer
        self.vocab = context["vocab"]
        self.conditioner = context["conditioner"]
        self.context = context
        self.model_dir = model_dir
        self.checkpoint = None

    @classmethod
    def recipe_for(cls, model_dir: str):
        """(recipe, config) of the run in `model_dir`; a kind refuses runs it cannot serve here."""
        return recipe_for(model_dir)

    @classmethod
    def load(cls, model_dir: str, checkpoint_path: str | None = None, use_ema: bool = True):
        recipe, config = cls.recipe_for(model_dir)
        trainer, context = restore_for_inference(recipe, config, model_dir, checkpoint_path)
        run = cls(recipe, config, trainer, context, use_ema, model_dir)
        run.checkpoint = checkpoint_path
        return run


class Text2Image(RestoredRun):
    """A restored run that turns captions into images.

    Example:
        >>> t2i = Text2Image.load("runs/gan_int_cls_shapes")
        >>> images = t2i(["a large red circle in the center"], num_per_caption=4, seed=0)
    """

    @classmethod
    def recipe_for(cls, model_dir: str):
        recipe, config = recipe_for(model_dir)
        if recipe.family.is_manipulation:  # its generator takes images too: a KeyError deep in forward
            raise ConfigError(f"{model_dir} is a {recipe.name} run (image manipulation), not a text-to-image "
                              "model; use python -m t2izoo.manipulate")
        return recipe, config

    @property
    def step(self) -> int:
        return self.recipe.step(self.trainer)

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
        conditioning = self.conditioner.conditioning(captions)
        conditioning = {k: tf.repeat(v, num_per_caption, axis=0) for k, v in conditioning.items()}
        n = len(captions) * num_per_caption
        # z and, for CA models, the CA noise too (truncated where training draws it so): each image
        # then depends only on (caption, seed), not on its position in the batch.
        noise = tf.constant(self.trainer.sampling_noise(np.random.default_rng(seed), n))
        return to_uint8(np.asarray(self.trainer.generate(conditioning, noise, use_ema=self.use_ema)))


FLAGS = flags.FLAGS


def main(argv):
    del argv

    def _run():
        t2i = Text2Image.load(FLAGS.model_dir)
        images = t2i(FLAGS.caption, FLAGS.num, FLAGS.seed)
        cols = min(FLAGS.num, 8)
        rows_captions = [c for c in FLAGS.caption for _ in range(-(-FLAGS.num // cols))]
        with writing(FLAGS.out):
            save_captioned_grid(images, rows_captions, cols, FLAGS.out)
        print(f"wrote {FLAGS.out}: {len(images)} images at {images.shape[1]} px")

    run_main(_run)


if __name__ == "__main__":
    flags.DEFINE_string("model_dir", None, "Run directory of a trained generator.", required=True)
    flags.DEFINE_multi_string("caption", None, "Caption (repeatable).", required=True)
    flags.DEFINE_integer("num", 8, "Images per caption.", lower_bound=1, upper_bound=256)
    flags.DEFINE_integer("seed", 0, "Noise seed.")
    flags.DEFINE_string("out", "out.png", "Output PNG grid.")
    app.run(main, flags_parser=parse_flags)
