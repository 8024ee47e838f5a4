"""What the recipes of DAMSM-conditioned tree GANs (AttnGAN, SD-GAN) share: the pipeline, the
per-scale discriminators, the check of converted runs and the attention figures at the end."""

from __future__ import annotations

import json
import os

import numpy as np

from t2izoo.conditioning.damsm.conditioner import DamsmConditioner
from t2izoo.data.datasets import load_dataset
from t2izoo.data.pipeline import PipelineOptions
from t2izoo.errors import ConfigError
from t2izoo.layers.multi_scale_discriminator import MultiScaleDiscriminator
from t2izoo.layers.stage_discriminator import StageDiscriminator
from t2izoo.trainers import run_loop
from t2izoo.utils.attention_maps import save_attention_figures

ATTENTION_DIR = "attention"


class DamsmGanRecipe(run_loop.Recipe):
    """A `run_loop.Recipe` for a `DamsmGanTrainer`; a family implements `build_trainer`
    (with `build_discriminator` and `trainer_arguments`)."""

    def pipeline_options(self, config):
        return PipelineOptions(image_sizes=config.image_sizes, batch_size=config.batch_size,
                               max_words=config.max_words, seed=config.seed)

    @staticmethod
    def build_discriminator(config, sync):
        return MultiScaleDiscriminator(
            [StageDiscriminator(image_size=s, ndf=config.ndf, sync_batch_norm=sync, name=f"discriminator_{s}")
             for s in config.image_sizes], name="discriminator")

    @staticmethod
    def trainer_arguments(config) -> dict:
        """The `DamsmGanTrainer` keyword arguments a config gives."""
        return dict(image_sizes=config.image_sizes, damsm_weight=config.damsm_weight, kl_weight=config.kl_weight,
                    gamma1=config.gamma1, gamma2=config.gamma2, gamma3=config.gamma3,
                    aggregation=config.aggregation, z_dim=config.z_dim, ema_decay=config.ema_decay,
                    weights_init=config.weights_init, seed=config.seed)

    def check_inputs(self, config, model_dir):
        super().check_inputs(config, model_dir)
        stored = os.path.join(model_dir, DamsmConditioner.stored_config)
        if not DamsmConditioner.has_pretrained(config) and os.path.exists(stored):
            with open(stored) as f:
                if json.load(f).get("image_encoder") == "none":
                    raise ConfigError(f"{model_dir} was converted without the DAMSM image encoder: it generates, "
                                      "evaluates and exports, but training needs the DAMSM loss; pass "
                                      "--override text_encoder_dir=<a DAMSM run> to fine-tune it")

    def finish(self, trainer, config, context, model_dir):
        captions = run_loop.fixed_sample_captions(load_dataset(config, "test"), rows=4)
        path = write_attention_figures(trainer, context["conditioner"], captions, model_dir,
                                       f"step_{self.step(trainer)}", config.seed)
        print(f"[{self.name}] attention figures: {path}")


def write_attention_figures(trainer, conditioner, captions, model_dir, tag, seed=0, top_k=5, use_ema=True):
    """Generates one image per caption (EMA G unless `use_ema` is False) and saves
    attention/<tag>.png; returns its path."""
    tokens = conditioner.python_tokens(captions)
    noise = np.random.default_rng(seed + 2).normal(size=(len(captions), trainer.noise_width())).astype(np.float32)
    images, maps = trainer.attention_maps(conditioner.conditioning(captions), noise, use_ema)
    path = os.path.join(model_dir, ATTENTION_DIR, f"{tag}.png")
    return save_attention_figures(path, captions, [np.asarray(x) for x in images], [np.asarray(m) for m in maps],
                                  tokens["tokens"], tokens["lengths"], conditioner.vocab, top_k)
