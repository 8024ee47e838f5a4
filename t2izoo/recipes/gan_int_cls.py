"""GAN-INT-CLS (Reed et al., ICML 2016) on a frozen, pretrained char-CNN-RNN embedding.

    python -m t2izoo.recipes.char_cnn_rnn --dataset=shapes      # pretrain the text encoder
    python -m t2izoo.recipes.gan_int_cls --dataset=shapes       # train the GAN

On `shapes`, a missing encoder run is pretrained first (`--auto_pretrain`), so the second
command alone goes from nothing to a trained model.
"""

from __future__ import annotations

import json
import os

import numpy as np
import tensorflow as tf
from absl import app, flags

from t2izoo.configs import base as config_lib
from t2izoo.configs.gan_int_cls import CHAR_CNN_RNN_PRESETS, GAN_INT_CLS_PRESETS
from t2izoo.data import shapes as shapes_data
from t2izoo.data import text as text_lib
from t2izoo.data.pipeline import PipelineOptions
from t2izoo.discriminators.matching_aware import TEXT_CONDITIONING, MatchingAwareDiscriminator
from t2izoo.encoders.char_cnn_rnn import CharCnnRnnEncoder
from t2izoo.errors import CheckpointError, ConfigError
from t2izoo.generators.dcgan_generator import DCGANGenerator
from t2izoo.recipes import char_cnn_rnn, common
from t2izoo.trainers import run_loop
from t2izoo.trainers.gan_int_cls import GanIntClsTrainer

NAME = "gan_int_cls"
ENCODER_CONFIG = "text_encoder.json"


def hard_negative_kinds(config) -> tuple:
    """`config.hard_negative_kinds` as a tuple of `shapes.HARD_NEGATIVE_KINDS`; ConfigError otherwise."""
    return common.parse_hard_negative_kinds(config.hard_negative_kinds, "hard_negative_kinds")


def default_encoder_dir(dataset: str) -> str:
    return os.path.join("runs", f"{char_cnn_rnn.NAME}_{dataset}")


class GanIntClsRecipe(run_loop.Recipe):
    name = NAME

    def prepare(self, config, model_dir):
        """Loads the frozen text encoder: from `encoder_dir`, or (inference) from the run itself."""
        encoder_dir = config.encoder_dir or default_encoder_dir(config.dataset)
        stored = os.path.join(model_dir, ENCODER_CONFIG)
        if os.path.exists(os.path.join(encoder_dir, config_lib.CONFIG_FILENAME)):
            encoder = char_cnn_rnn.load_text_encoder(encoder_dir)
            with open(stored + ".tmp", "w") as f:
                json.dump(encoder.get_config(), f)
            os.replace(stored + ".tmp", stored)
        elif os.path.exists(stored):  # the GAN checkpoint holds the encoder's weights too
            with open(stored) as f:
                encoder = CharCnnRnnEncoder.from_config(json.load(f))
            encoder(tf.zeros((1, text_lib.CHAR_LENGTH), tf.int32))
        else:
            raise CheckpointError(
                f"no pretrained char-CNN-RNN in {encoder_dir}: run `python -m t2izoo.recipes.char_cnn_rnn "
                f"--dataset={config.dataset} --model_dir={encoder_dir}` first, or pass encoder_dir")
        encoder.trainable = False
        return {"text_encoder": encoder}

    def pipeline_options(self, config):
        if config.d_text_conditioning not in TEXT_CONDITIONING:
            raise ConfigError(f"d_text_conditioning={config.d_text_conditioning!r}: expected one of "
                              f"{', '.join(TEXT_CONDITIONING)}")
        fraction = getattr(config, "hard_negative_fraction", 0.0)
        if not 0.0 <= fraction <= 1.0:
            raise ConfigError(f"hard_negative_fraction={fraction}: expected a value in [0, 1]")
        if fraction > 0 and config.dataset != "shapes":
            raise ConfigError(f"hard_negative_fraction needs the attributes of `shapes` scenes; "
                              f"--dataset={config.dataset} has none (use 0)")
        hard_negative_kinds(config)
        return PipelineOptions(image_sizes=(config.image_size,), batch_size=config.batch_size,
                               max_words=config.max_words, num_embeddings=config.num_embeddings, seed=config.seed,
                               hard_negative_fraction=fraction)

    def caption_embeddings(self, config, context, image_set):
        """Embeddings of every training caption by the frozen encoder, cached in the run dir."""
        path = os.path.join(context["model_dir"], f"caption_embeddings_{image_set.split}.npy")
        encoder = context["text_encoder"]
        num = max(len(c) for c in image_set.captions)
        shape = (len(image_set), num, encoder.embedding_dim)
        if os.path.exists(path):
            cached = np.load(path, mmap_mode="r")
            if cached.shape == shape:
                return cached
        flat = [c for caps in image_set.captions for c in caps]
        print(f"[{NAME}] embedding {len(flat)} training captions with the frozen char-CNN-RNN ...")
        vectors = char_cnn_rnn.encode_captions(encoder, flat)
        out = np.zeros(shape, np.float32)
        k = 0
        for i, caps in enumerate(image_set.captions):
            out[i, : len(caps)] = vectors[k: k + len(caps)]
            k += len(caps)
        np.save(path + ".tmp.npy", out)
        os.replace(path + ".tmp.npy", path)
        return out

    def hard_negative_embeddings(self, config, context, image_set):
        """[N, K, D]: per scene and each of the K `hard_negative_kinds`, the mean embedding of
        `num_embeddings` captions of the scene changed that way (`shapes.hard_negative_captions`);
        cached in the run dir."""
        kinds = hard_negative_kinds(config)
        suffix = "" if kinds == shapes_data.ATTRIBUTE_NAMES else "_" + "-".join(kinds)
        path = os.path.join(context["model_dir"], f"hard_negative_embeddings_{image_set.split}{suffix}.npy")
        encoder = context["text_encoder"]
        shape = (len(image_set), len(kinds), encoder.embedding_dim)
        if os.path.exists(path):
            cached = np.load(path, mmap_mode="r")
            if cached.shape == shape:
                return cached
        rng = np.random.default_rng([config.seed, 104729])
        count = config.num_embeddings
        flat = [c for objects in image_set.attributes
                for captions in shapes_data.hard_negative_captions(objects, count, rng, kinds)
                for c in captions]
        print(f"[{NAME}] embedding {len(flat)} hard-negative captions with the frozen char-CNN-RNN ...")
        vectors = char_cnn_rnn.encode_captions(encoder, flat).reshape(shape[0], shape[1], count, shape[2])
        out = vectors.mean(2).astype(np.float32)
        np.save(path + ".tmp.npy", out)
        os.replace(path + ".tmp.npy", path)
        return out

    def build_trainer(self, config, context):
        encoder = context["text_encoder"]
        sync = config.sync_batch_norm and tf.distribute.get_strategy().num_replicas_in_sync > 1
        generator = DCGANGenerator(config.image_size, config.z_dim, config.text_proj_dim, config.ngf,
                                   config.residual, sync, standardize_text=config.standardize_text, name="generator")
        if config.standardize_text and "caption_embeddings" in context:  # training; a restore brings them
            generator.text_standardization.set_statistics(context["caption_embeddings"])
        discriminator = MatchingAwareDiscriminator(config.image_size, config.text_proj_dim, config.ndf,
                                                   config.residual, sync, text_conditioning=config.d_text_conditioning,
                                                   name="discriminator")
        trainer = GanIntClsTrainer(generator, discriminator, text_encoder=encoder, image_size=config.image_size,
                                   cls_weight=config.cls_weight, interp_weight=config.interp_weight,
                                   interp_beta=config.interp_beta, z_dim=config.z_dim, ema_decay=config.ema_decay,
                                   seed=config.seed)

        steps = context["steps_per_epoch"]
        trainer.compile(g_optimizer=common.halving_adam(config, steps), d_optimizer=common.halving_adam(config, steps),
                        jit_compile=common.jit_compile(config))
        return trainer

    def example_batch(self, config, context):
        dim = context["text_encoder"].embedding_dim
        s = config.image_size
        return {"index": tf.range(2), f"image_{s}": tf.zeros((2, s, s, 3)),
                "embedding": tf.zeros((2, dim)), "wrong_embedding": tf.zeros((2, dim))}

    def conditioning(self, trainer, captions):
        chars = np.stack([text_lib.encode_chars(c) for c in captions])
        return {"embedding": trainer.encode_text(tf.constant(chars, tf.int32))}

    def sampler(self, trainer, config, context, captions):
        cols = run_loop.SAMPLE_COLS
        noise = tf.constant(np.random.default_rng(config.seed + 1).normal(size=(len(captions) * cols, config.z_dim)),
                            tf.float32)

        def sample():
            embedding = self.conditioning(trainer, captions)["embedding"]
            embedding = tf.repeat(embedding, cols, axis=0)
            images = trainer.generate({"embedding": embedding}, noise)
            return images.numpy(), captions

        return sample


def ensure_text_encoder(config, max_minutes: float = 0.0):
    """Pretrains the shapes text encoder when its run is missing (`--auto_pretrain`)."""
    encoder_dir = config.encoder_dir or default_encoder_dir(config.dataset)
    if os.path.exists(os.path.join(encoder_dir, run_loop.CHECKPOINT_SUBDIR, "checkpoint")):
        return
    if config.dataset != "shapes":
        return  # `prepare` explains what to run
    print(f"[{NAME}] no text encoder in {encoder_dir}: pretraining char-CNN-RNN on shapes first")
    encoder_config = CHAR_CNN_RNN_PRESETS["shapes"]
    encoder_config = config_lib.apply_overrides(
        encoder_config, [f"shapes_train={config.shapes_train}", f"shapes_test={config.shapes_test}",
                         f"seed={config.seed}", f"max_minutes={max_minutes}"])
    char_cnn_rnn.train(encoder_config, encoder_dir)


def train(config, model_dir, strategy="default", auto_pretrain=True, pretrain_minutes=0.0, **kwargs):
    recipe = GanIntClsRecipe()
    if auto_pretrain:
        recipe.pipeline_options(config)  # a bad option fails now, not after pretraining the encoder
        ensure_text_encoder(config, pretrain_minutes)
    return run_loop.train(recipe, config, model_dir, strategy, **kwargs)


main = common.recipe_main(GAN_INT_CLS_PRESETS, NAME, train, ("auto_pretrain", "pretrain_minutes"))


if __name__ == "__main__":
    common.define_flags(GAN_INT_CLS_PRESETS)
    common.define_auto_pretrain_flag("text encoder")
    flags.DEFINE_float("pretrain_minutes", 0.0, "Time cap of that pretraining (0: the full preset).", lower_bound=0)
    app.run(main)
