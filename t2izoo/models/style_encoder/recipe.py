"""Reed et al.'s style encoder on a trained text-to-image run (ICML 2016, Sec. 4.4).

    python -m t2izoo.recipes.gan_int_cls --dataset=shapes --model_dir=runs/gan_int_cls_shapes
    python -m t2izoo.recipes.style_encoder --gan_dir=runs/gan_int_cls_shapes      # S for that G
    python -m t2izoo.manipulate --model_dir=runs/style_encoder_shapes --image=in.png --caption="..."

The GAN run is found through the registry (any noise-conditioned family); its frozen EMA
generator and text encoder are restored from `gan_dir`, which the style encoder run needs at
inference too.
"""

from __future__ import annotations

import dataclasses
import os
import shutil

import tensorflow as tf
from absl import flags

from t2izoo import configs as config_lib
from t2izoo import registry
from t2izoo.errors import CheckpointError, ConfigError
from t2izoo.models.style_encoder.encoder import StyleEncoder
from t2izoo.models.style_encoder.trainer import StyleEncoderTrainer
from t2izoo.trainers import optimizers, run_loop
from t2izoo.trainers.checkpointing import CHECKPOINT_SUBDIR, restore_for_inference

FLAGS = flags.FLAGS


def gan_run(config):
    """(family, config) of the GAN run in `config.gan_dir`; ConfigError/CheckpointError when it is
    missing, not a text-to-image run, or of another dataset (reads only)."""
    if not config.gan_dir:
        raise ConfigError("--gan_dir is required: the model_dir of a trained text-to-image run to invert")
    family = registry.family_of_run(config.gan_dir)
    if family.is_manipulation:
        raise ConfigError(f"--gan_dir={config.gan_dir} is a {family.name} run; give a text-to-image run")
    gan_config = config_lib.load_config(family.config_class, config.gan_dir)
    if gan_config.dataset != config.dataset:
        raise ConfigError(f"--gan_dir={config.gan_dir} was trained on {gan_config.dataset}, not {config.dataset}")
    if not os.path.exists(os.path.join(config.gan_dir, CHECKPOINT_SUBDIR, "checkpoint")):
        raise CheckpointError(f"--gan_dir={config.gan_dir} has no checkpoint yet (train it first)")
    return family, gan_config


class StyleEncoderRecipe(run_loop.Recipe):
    name = "style_encoder"

    @classmethod
    def define_flags(cls):
        flags.DEFINE_string("gan_dir", None, "Run directory of the trained text-to-image GAN to invert.")

    def config_from_flags(self, config):
        if FLAGS.gan_dir:
            config = dataclasses.replace(config, gan_dir=FLAGS.gan_dir)
        return config

    def pipeline_options(self, config):
        family, gan_config = gan_run(config)
        options = family.make_recipe().pipeline_options(gan_config)
        return dataclasses.replace(options, batch_size=config.batch_size, seed=config.seed,
                                   num_embeddings=config.num_embeddings, hard_negative_fraction=0.0)

    def check_inputs(self, config, model_dir):
        gan_run(config)

    def prepare(self, config, model_dir, vocab):
        family, gan_config = gan_run(config)
        # The same frozen encoder over the same captions: reuse the GAN run's cached embeddings
        # (embedding 100k shapes captions takes minutes on a CPU).
        for name in os.listdir(config.gan_dir):
            target = os.path.join(model_dir, name)
            if name.startswith("caption_embeddings_") and name.endswith(".npy") and not os.path.exists(target):
                os.makedirs(model_dir, exist_ok=True)
                shutil.copyfile(os.path.join(config.gan_dir, name), target)
        gan, gan_context = restore_for_inference(family.make_recipe(), gan_config, config.gan_dir)
        return {"conditioner": gan_context["conditioner"], "gan": gan, "gan_config": gan_config}

    def example_batch(self, config, context):
        family, gan_config = gan_run(config)
        return family.make_recipe().example_batch(gan_config, context)

    def step(self, trainer) -> int:
        return int(trainer.s_optimizer.iterations.numpy())

    def build_trainer(self, config, context):
        gan = context["gan"]
        size = context["gan_config"].image_size
        # Under a multi-replica strategy, S's batch norm uses the global batch (every worker keeps the
        # same statistics, as one device).
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        encoder = StyleEncoder(image_size=size, noise_width=gan.noise_width(), ndf=config.ndf,
                               sync_batch_norm=replicas > 1, name="style_encoder")
        trainer = StyleEncoderTrainer(encoder, gan, image_size=size, seed=config.seed)
        trainer.compile(optimizers.adam(config.learning_rate, config.beta_1, config.beta_2, context["steps_per_epoch"]),
                        jit_compile=optimizers.jit_compile(config))
        return trainer
