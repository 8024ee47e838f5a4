"""AttnGAN (Xu et al., CVPR 2018) on frozen, pretrained DAMSM encoders.

    python -m t2izoo.recipes.damsm --dataset=shapes        # pretrain the DAMSM encoders
    python -m t2izoo.recipes.attngan --dataset=shapes      # train the GAN
    python -m t2izoo.recipes.attngan --dataset=coco --data_dir=/data/coco \
        --override damsm_dir=runs/damsm_coco

On `shapes`, a missing DAMSM run is pretrained first (`--auto_pretrain`). The run directory
gets sample grids (samples/) and, at the end, attention figures (attention/: the top attended
words of each attention stage over the generated image). `python -m t2izoo.evaluate
--model_dir=...` scores a finished run; `python -m t2izoo.generate` samples from it.
"""

from __future__ import annotations

import json
import os
import shutil

import keras
import numpy as np
import tensorflow as tf
from absl import app

from t2izoo.configs import base as config_lib
from t2izoo.configs.attngan import ATTNGAN_PRESETS, DAMSM_PRESETS, DamsmConfig
from t2izoo.data import text as text_lib
from t2izoo.data.pipeline import PipelineOptions
from t2izoo.discriminators.stage import MultiScaleDiscriminator, StageDiscriminator
from t2izoo.errors import CheckpointError, ConfigError
from t2izoo.evaluate import evaluate
from t2izoo.generators.attngan import AttnGanGenerator
from t2izoo.recipes import common, damsm
from t2izoo.trainers import run_loop
from t2izoo.trainers.attngan import AttnGanTrainer
from t2izoo.utils.attention_maps import save_attention_figures

NAME = "attngan"
DAMSM_CONFIG = "damsm_config.json"  # the DAMSM run's config, kept so the run dir alone can sample
ATTENTION_DIR = "attention"


def default_damsm_dir(dataset: str) -> str:
    return os.path.join("runs", f"{damsm.NAME}_{dataset}")


def damsm_dir_of(config) -> str:
    return config.damsm_dir or default_damsm_dir(config.dataset)


def has_checkpoint(model_dir: str) -> bool:
    return os.path.exists(os.path.join(model_dir, run_loop.CHECKPOINT_SUBDIR, "checkpoint"))


class AttnGanRecipe(run_loop.Recipe):
    name = NAME

    def __init__(self):
        self.vocab = None
        self.max_words = None

    def prepare(self, config, model_dir):
        """Frozen DAMSM encoders: from `damsm_dir`, or (inference) rebuilt from the run itself."""
        source = damsm_dir_of(config)
        stored = os.path.join(model_dir, DAMSM_CONFIG)
        vocab = text_lib.Vocabulary.load(model_dir)
        if has_checkpoint(source):
            text_encoder, image_encoder, damsm_config, damsm_vocab = damsm.load_encoders(source)
            if damsm_vocab != vocab:
                raise ConfigError(f"{model_dir}/{text_lib.VOCAB_FILENAME} differs from the DAMSM vocabulary of "
                                  f"{source}: the word ids would not match its text encoder; use a new --model_dir")
            with open(stored + ".tmp", "w") as f:
                json.dump(config_lib.to_dict(damsm_config), f, indent=2, sort_keys=True)
            os.replace(stored + ".tmp", stored)
        elif os.path.exists(stored):  # the GAN checkpoint holds the encoders' weights too
            with open(stored) as f:
                damsm_config = config_lib.from_dict(DamsmConfig, json.load(f))
            text_encoder = damsm.build_text_encoder(damsm_config, len(vocab))
            image_encoder = damsm.build_image_encoder(damsm_config)
            s = damsm_config.image_size
            text_encoder((tf.ones((1, 2), tf.int32), tf.constant([2])))
            image_encoder(tf.zeros((1, s, s, 3)))
        else:
            raise CheckpointError(
                f"no pretrained DAMSM in {source}: run `python -m t2izoo.recipes.damsm --dataset={config.dataset} "
                f"--model_dir={source}` first, or pass --override damsm_dir=...")
        if damsm_config.embedding_dim != text_encoder.feature_dim:
            raise ConfigError(f"DAMSM embedding_dim {damsm_config.embedding_dim} != text features "
                              f"{text_encoder.feature_dim}")
        self.vocab, self.max_words = vocab, config.max_words
        return {"text_encoder": text_encoder, "image_encoder": image_encoder, "damsm_config": damsm_config}

    def pipeline_options(self, config):
        return PipelineOptions(image_sizes=config.image_sizes, batch_size=config.batch_size,
                               max_words=config.max_words, seed=config.seed)

    def build_trainer(self, config, context):
        sync = config.sync_batch_norm and tf.distribute.get_strategy().num_replicas_in_sync > 1
        generator = AttnGanGenerator(config.base_size, config.num_stages, config.z_dim, config.condition_dim,
                                     config.ngf, config.residual_blocks, sync, name="generator")
        discriminator = MultiScaleDiscriminator(
            [StageDiscriminator(s, config.ndf, sync_batch_norm=sync, name=f"discriminator_{s}")
             for s in config.image_sizes], name="discriminator")
        trainer = AttnGanTrainer(generator, discriminator, context["text_encoder"], context["image_encoder"],
                                 config.image_sizes, config.damsm_weight, config.kl_weight, config.gamma1,
                                 config.gamma2, config.gamma3, config.aggregation, z_dim=config.z_dim,
                                 ema_decay=config.ema_decay, seed=config.seed)

        def adam():
            return keras.optimizers.Adam(config.learning_rate, beta_1=config.beta_1, beta_2=0.999)

        trainer.compile(g_optimizer=adam(), d_optimizer=adam(), jit_compile=common.jit_compile(config))
        return trainer

    def example_batch(self, config, context):
        t = config.max_words
        batch = {"index": tf.range(2), "tokens": tf.ones((2, t), tf.int32), "lengths": tf.constant([t, 1]),
                 "wrong_tokens": tf.ones((2, t), tf.int32), "wrong_lengths": tf.constant([1, t]),
                 "class_ids": tf.constant([0, 1]), "wrong_class_ids": tf.constant([1, 0])}
        for s in config.image_sizes:
            batch[f"image_{s}"] = tf.zeros((2, s, s, 3))
        return batch

    def conditioning(self, trainer, captions):
        encoded = [self.vocab.encode(c, self.max_words) for c in captions]
        return {"tokens": tf.constant(np.stack([e[0] for e in encoded]), tf.int32),
                "lengths": tf.constant([max(e[1], 1) for e in encoded], tf.int32)}

    def fixed_noise(self, trainer, n, seed):
        return tf.constant(np.random.default_rng(seed).normal(size=(n, trainer.noise_width())), tf.float32)

    def sampler(self, trainer, config, context, captions):
        cols = run_loop.SAMPLE_COLS
        noise = self.fixed_noise(trainer, len(captions) * cols, config.seed + 1)

        def sample():
            cond = {k: tf.repeat(v, cols, axis=0) for k, v in self.conditioning(trainer, captions).items()}
            return trainer.generate(cond, noise).numpy(), captions

        return sample

    def finish(self, trainer, config, context, model_dir):
        captions = run_loop.fixed_sample_captions(run_loop.load_dataset(config, "test"), rows=4)
        path = write_attention_figures(self, trainer, captions, model_dir, f"step_{self.step(trainer)}", config.seed)
        print(f"[{NAME}] attention figures: {path}")
        if config.dataset == "shapes" and config.eval_images >= 10:
            for split in ("test", "novel"):
                r = evaluate(model_dir, ["shapes_acc", "shapes_r_precision"], config.eval_images, split,
                             seed=config.seed, verbose=False)
                print(f"[{NAME}] {split} ({config.eval_images} images, EMA G): colour {100 * r['acc_color']:.1f} %, "
                      f"shape {100 * r['acc_shape']:.1f} %, size {100 * r['acc_size']:.1f} %, position "
                      f"{100 * r['acc_position']:.1f} %, shapes R-precision {r['shapes_r_precision']:.1f} %; "
                      f"colour of one-object scenes {100 * r.get('acc_color_1obj', float('nan')):.1f} %, of "
                      f"two-object scenes {100 * r.get('acc_color_2obj', float('nan')):.1f} % (appended to eval.jsonl)")


def write_attention_figures(recipe, trainer, captions, model_dir, tag, seed=0, top_k=5, use_ema=True):
    """Generates one image per caption (EMA G unless `use_ema` is False) and saves
    attention/<tag>.png; returns its path."""
    cond = recipe.conditioning(trainer, captions)
    images, maps, _ = trainer.generate_details(cond, recipe.fixed_noise(trainer, len(captions), seed + 2), use_ema)
    path = os.path.join(model_dir, ATTENTION_DIR, f"{tag}.png")
    return save_attention_figures(path, captions, [x.numpy() for x in images], [m.numpy() for m in maps],
                                  cond["tokens"].numpy(), cond["lengths"].numpy(), recipe.vocab, top_k)


def ensure_damsm(config):
    """Pretrains the shapes DAMSM when its run is missing (`--auto_pretrain`)."""
    source = damsm_dir_of(config)
    if has_checkpoint(source) or config.dataset != "shapes":
        return  # `prepare` explains what to run otherwise
    print(f"[{NAME}] no DAMSM in {source}: pretraining it on shapes first")
    damsm_config = config_lib.apply_overrides(
        DAMSM_PRESETS["shapes"], [f"shapes_train={config.shapes_train}", f"shapes_test={config.shapes_test}",
                                  f"seed={config.seed}", f"max_words={config.max_words}"])
    damsm.train(damsm_config, source)


def share_vocabulary(config, model_dir):
    """The GAN must see the DAMSM's word ids: copy its vocabulary into a new run directory."""
    source = os.path.join(damsm_dir_of(config), text_lib.VOCAB_FILENAME)
    target = os.path.join(model_dir, text_lib.VOCAB_FILENAME)
    if os.path.exists(source) and not os.path.exists(target):
        os.makedirs(model_dir, exist_ok=True)
        shutil.copyfile(source, target)


def train(config, model_dir, strategy="default", auto_pretrain=True):
    if auto_pretrain:
        ensure_damsm(config)
    share_vocabulary(config, model_dir)
    return run_loop.train(AttnGanRecipe(), config, model_dir, strategy)


main = common.recipe_main(ATTNGAN_PRESETS, NAME, train, ("auto_pretrain",))


if __name__ == "__main__":
    common.define_flags(ATTNGAN_PRESETS)
    common.define_auto_pretrain_flag("DAMSM")
    app.run(main)
