"""GAN-INT-CLS (Reed et al., ICML 2016) on a frozen, pretrained char-CNN-RNN embedding.

    python -m t2izoo.recipes.char_cnn_rnn --dataset=shapes      # pretrain the text encoder
    python -m t2izoo.recipes.gan_int_cls --dataset=shapes       # train the GAN

On `shapes`, a missing encoder run is pretrained first (`--auto_pretrain`), so the second
command alone goes from nothing to a trained model.
"""

from __future__ import annotations

import os

import numpy as np

from t2izoo.data import shapes as shapes_data
from t2izoo.data.pipeline import PipelineOptions
from t2izoo.errors import ConfigError
from t2izoo.models.gan_int_cls.discriminator import TEXT_CONDITIONING, MatchingAwareDiscriminator
from t2izoo.models.gan_int_cls.generator import DCGANGenerator
from t2izoo.models.gan_int_cls.trainer import INTERP_PASSES, WRONG_PAIRS, GanIntClsTrainer
from t2izoo.trainers import optimizers, run_loop
from t2izoo.utils.files import save_npy_atomic


def hard_negative_kinds(config) -> tuple:
    """`config.hard_negative_kinds` as a tuple of `shapes.HARD_NEGATIVE_KINDS`; ConfigError otherwise."""
    return shapes_data.parse_hard_negative_kinds(config.hard_negative_kinds, "hard_negative_kinds")


class GanIntClsRecipe(run_loop.Recipe):
    name = "gan_int_cls"

    def pipeline_options(self, config):
        if config.d_text_conditioning not in TEXT_CONDITIONING:
            raise ConfigError(f"d_text_conditioning={config.d_text_conditioning!r}: expected one of "
                              f"{', '.join(TEXT_CONDITIONING)}")
        for name, choices in (("interp_pass", INTERP_PASSES), ("wrong_pair", WRONG_PAIRS)):
            if getattr(config, name) not in choices:
                raise ConfigError(f"{name}={getattr(config, name)!r}: expected one of {', '.join(choices)}")
        fraction = config.hard_negative_fraction
        if not 0.0 <= fraction <= 1.0:
            raise ConfigError(f"hard_negative_fraction={fraction}: expected a value in [0, 1]")
        if fraction > 0 and config.dataset != "shapes":
            raise ConfigError(f"hard_negative_fraction needs the attributes of `shapes` scenes; "
                              f"--dataset={config.dataset} has none (use 0)")
        if fraction > 0 and config.wrong_pair != "wrong_text":
            raise ConfigError("hard_negative_fraction replaces wrong captions: it needs "
                              "--override wrong_pair=wrong_text (the default pair is icml2016's wrong image)")
        hard_negative_kinds(config)
        return PipelineOptions(image_sizes=(config.image_size,), batch_size=config.batch_size,
                               max_words=config.max_words, num_embeddings=config.num_embeddings, seed=config.seed,
                               hard_negative_fraction=fraction, wrong_images=config.wrong_pair == "wrong_image")

    def hard_negative_embeddings(self, config, context, image_set):
        """[N, K, D]: per scene and each of the K `hard_negative_kinds`, the mean embedding of
        `num_embeddings` captions of the scene changed that way (`shapes.hard_negative_captions`);
        cached in the run dir."""
        kinds = hard_negative_kinds(config)
        suffix = "" if kinds == shapes_data.ATTRIBUTE_NAMES else "_" + "-".join(kinds)
        path = os.path.join(context["model_dir"], f"hard_negative_embeddings_{image_set.split}{suffix}.npy")
        conditioner = context["conditioner"]
        shape = (len(image_set), len(kinds), conditioner.dim)
        if os.path.exists(path):
            cached = np.load(path, mmap_mode="r")
            if cached.shape == shape:
                return cached
        rng = np.random.default_rng([config.seed, 104729])
        count = config.num_embeddings
        flat = [c for objects in image_set.attributes
                for captions in shapes_data.hard_negative_captions(objects, count, rng, kinds)
                for c in captions]
        print(f"[{self.name}] embedding {len(flat)} hard-negative captions with the frozen char-CNN-RNN ...")
        vectors = conditioner.embed(flat).reshape(shape[0], shape[1], count, shape[2])
        out = vectors.mean(2).astype(np.float32)
        save_npy_atomic(path, out)
        return out

    def build_trainer(self, config, context):
        sync = optimizers.sync_batch_norm(config)
        generator = DCGANGenerator(image_size=config.image_size, z_dim=config.z_dim,
                                   text_proj_dim=config.text_proj_dim, ngf=config.ngf, residual=config.residual,
                                   sync_batch_norm=sync, standardize_text=config.standardize_text,
                                   icml2016_activations=config.icml2016_activations, conv_bias=config.conv_bias,
                                   name="generator")
        if config.standardize_text and "caption_embeddings" in context:  # training; a restore brings them
            generator.text_standardization.set_statistics(context["caption_embeddings"])
        discriminator = MatchingAwareDiscriminator(image_size=config.image_size, text_proj_dim=config.text_proj_dim,
                                                   ndf=config.ndf, residual=config.residual, sync_batch_norm=sync,
                                                   text_conditioning=config.d_text_conditioning,
                                                   icml2016_activations=config.icml2016_activations,
                                                   conv_bias=config.conv_bias,
                                                   name="discriminator")
        trainer = GanIntClsTrainer(generator, discriminator, text_encoder=context["conditioner"].encoder,
                                   image_size=config.image_size, cls_weight=config.cls_weight,
                                   interp_weight=config.interp_weight, interp_beta=config.interp_beta,
                                   interp_pass=config.interp_pass, g_fresh_noise=config.g_fresh_noise,
                                   wrong_pair=config.wrong_pair,
                                   z_dim=config.z_dim, ema_decay=config.ema_decay,
                                   weights_init=config.weights_init, seed=config.seed)
        trainer.compile(**optimizers.gan_optimizers(config, context["steps_per_epoch"]),
                        jit_compile=optimizers.jit_compile(config))
        return trainer
