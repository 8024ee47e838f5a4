"""SISGAN (Dong et al., ICCV 2017): text-guided image manipulation.

    python -m t2izoo.recipes.sisgan --dataset=shapes                    # CPU-sized, from scratch
    python -m t2izoo.recipes.sisgan --dataset=cub --data_dir=data/birds \
        --override vgg_weights=vgg16_notop.h5 --override vgg_top_weights=vgg16.h5 \
        --override word_vectors=wiki.en.vec                             # the paper's set-up
    python -m t2izoo.manipulate --model_dir=runs/sisgan_shapes --image=in.png --caption="..."

A run first trains its own text encoder (GRU visual-semantic embedding, pairwise ranking loss,
`vse_epochs`), saves it as <model_dir>/vse_text_encoder.weights.h5, freezes it and trains the GAN.
"""

from __future__ import annotations

import math
import os

import keras
import numpy as np

from t2izoo.data import shapes as shapes_data
from t2izoo.data import text as text_lib
from t2izoo.data.datasets import load_dataset
from t2izoo.data.pipeline import PipelineOptions, make_dataset, tensor_batch
from t2izoo.encoders.gru_text import GruSentenceEncoder, load_word_vectors
from t2izoo.encoders.small_cnn import SmallImageEncoder
from t2izoo.errors import ConfigError
from t2izoo.layers.stage_discriminator import StageDiscriminator
from t2izoo.models.sisgan.generator import SisganGenerator
from t2izoo.models.sisgan.text import (
    SisganTextConditioner,
    VseTrainer,
    caption_retrieval_r1,
)
from t2izoo.models.sisgan.trainer import SisganTrainer
from t2izoo.trainers import optimizers, run_loop
from t2izoo.trainers.checkpointing import CHECKPOINT_SUBDIR

HARD_CAPTIONS = 4  # captions per changed scene for `hard_negative_fraction`

VSE_WEIGHTS = "vse_text_encoder.weights.h5"


class VggFc7Encoder(keras.Model):
    """The VSE's image side on real data: frozen VGG16 fc7 (4096) of the image resized to 224 px,
    then a trained linear map to the text size (dong_iccv_2017 `VisualSemanticEmbedding`)."""

    def __init__(self, weights_path="", embedding_dim=300, **kwargs):
        super().__init__(**kwargs)
        self.weights_path = weights_path
        self.embedding_dim = embedding_dim
        base = keras.applications.VGG16(include_top=True, weights=weights_path or None)
        self.fc7 = keras.Model(base.input, base.get_layer("fc2").output, name="vgg16_fc7")
        self.fc7.trainable = False
        self.projection = keras.layers.Dense(embedding_dim)

    def call(self, images, training=False):
        pixels = keras.ops.image.resize((images + 1.0) * 127.5, (224, 224))
        bgr = keras.ops.flip(pixels, axis=-1) - keras.ops.array((103.939, 116.779, 123.68), "float32")
        return self.projection(self.fc7(bgr, training=False))

    def get_config(self):
        return {**super().get_config(), "weights_path": self.weights_path, "embedding_dim": self.embedding_dim}


class SisganRecipe(run_loop.Recipe):
    name = "sisgan"

    def pipeline_options(self, config):
        self.check_files(config)
        return PipelineOptions(image_sizes=(config.image_size,), batch_size=config.batch_size,
                               max_words=config.max_words, seed=config.seed,
                               hard_negative_fraction=config.hard_negative_fraction)

    def hard_negative_tokens(self, config, context, image_set, count=HARD_CAPTIONS):
        """(ids [N, K, count, L], lengths [N, K, count]): per training scene and each of the K
        `hard_negative_kinds`, `count` captions of the scene changed that way, tokenized."""
        kinds = shapes_data.parse_hard_negative_kinds(config.hard_negative_kinds, "hard_negative_kinds")
        rng = np.random.default_rng([config.seed, 104729])
        vocab = context["vocab"]
        return text_lib.pad_token_lists([[[vocab.tokenize(c) for c in captions]
                                          for captions in shapes_data.hard_negative_captions(objects, count, rng, kinds)]
                                         for objects in image_set.attributes], depth=3)

    @staticmethod
    def check_files(config):
        """The local files the config names exist (VGG16 is never downloaded)."""
        if config.image_encoder == "vgg":
            for field in ("vgg_weights", "vgg_top_weights"):
                path = getattr(config, field)
                if not path:
                    raise ConfigError(f"image_encoder=vgg needs --override {field}=<local Keras VGG16 weights .h5> "
                                      "(never downloaded); or --override image_encoder=cnn")
                if not os.path.isfile(path):
                    raise ConfigError(f"{field}={path}: no such file")
        if config.word_vectors and not os.path.isfile(config.word_vectors):
            raise ConfigError(f"word_vectors={config.word_vectors}: no such file")

    def check_inputs(self, config, model_dir):
        self.check_files(config)

    def text_encoder(self, config, vocab):
        encoder = GruSentenceEncoder(len(vocab), config.word_dim, config.text_dim,
                                     trainable_words=not config.word_vectors, name="text_encoder")
        encoder((keras.ops.ones((1, 2), "int32"), keras.ops.array([2])))
        return encoder

    def pretrain_text_encoder(self, config, model_dir, vocab, encoder):
        """SISGAN's VSE: the GRU text encoder against an image encoder, pairwise ranking loss."""
        if config.word_vectors:
            table, found = load_word_vectors(config.word_vectors, vocab.words, config.word_dim, config.seed)
            encoder.words.embeddings.assign(table)
            print(f"[{self.name}] word vectors: {found} of {len(vocab) - 2} words found in {config.word_vectors}")
        if config.image_encoder == "vgg":
            image_encoder = VggFc7Encoder(config.vgg_top_weights, config.text_dim)
        else:
            image_encoder = SmallImageEncoder(config.text_dim, widths=(32, 64, 128, 256))
        train_set = load_dataset(config, "train")
        batch_size = min(config.vse_batch_size, len(train_set))
        options = PipelineOptions(image_sizes=(config.image_size,), batch_size=batch_size,
                                  max_words=config.max_words, seed=config.seed + 17)
        steps_per_epoch = max(len(train_set) // batch_size, 1)
        steps = max(1, math.ceil(config.vse_epochs * steps_per_epoch))
        image_encoder(keras.ops.zeros((1, config.image_size, config.image_size, 3)))
        vse = VseTrainer(encoder, image_encoder, config.image_size, config.vse_margin)
        vse.compile(optimizer=keras.optimizers.Adam(config.vse_learning_rate),
                    jit_compile=optimizers.jit_compile(config))
        vse.optimizer.build(encoder.trainable_variables + image_encoder.trainable_variables)
        print(f"[{self.name}] training the text encoder (GRU VSE, ranking loss, margin {config.vse_margin}): "
              f"{steps} steps")
        dataset = make_dataset(train_set, vocab, options, num_steps=steps)
        history = vse.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=2 if steps > 50 else 0)
        from t2izoo.data.pipeline import BatchAssembler

        test = BatchAssembler(load_dataset(config, "test"), vocab, PipelineOptions(
            image_sizes=(config.image_size,), batch_size=min(100, config.shapes_test), max_words=config.max_words,
            training=False))
        r1 = caption_retrieval_r1(encoder, image_encoder, tensor_batch(test(0)), config.image_size)
        print(f"[{self.name}] VSE: final ranking loss {history.history['vse_loss'][-1]:.3f}; test image -> caption "
              f"R@1 among {min(100, config.shapes_test)}: {100 * r1:.1f} %")
        os.makedirs(model_dir, exist_ok=True)
        encoder.save_weights(os.path.join(model_dir, VSE_WEIGHTS))

    def prepare(self, config, model_dir, vocab):
        encoder = self.text_encoder(config, vocab)
        path = os.path.join(model_dir, VSE_WEIGHTS)
        if os.path.exists(path):
            encoder.load_weights(path)
        elif not os.path.exists(os.path.join(model_dir, CHECKPOINT_SUBDIR, "checkpoint")):
            self.pretrain_text_encoder(config, model_dir, vocab, encoder)
        # else: the checkpoint restores it
        return {"conditioner": SisganTextConditioner(encoder, vocab, config.max_words)}

    def build_trainer(self, config, context):
        sync = optimizers.sync_batch_norm(config)
        generator = SisganGenerator(image_size=config.image_size, ngf=config.ngf, condition_dim=config.condition_dim,
                                    num_residual=config.num_residual, image_encoder=config.image_encoder,
                                    vgg_weights=config.vgg_weights, sync_batch_norm=sync, name="generator")
        discriminator = StageDiscriminator(image_size=config.image_size, ndf=config.ndf, variant="stackgan",
                                           text_proj_dim=config.text_proj_dim, sync_batch_norm=sync,
                                           name="discriminator")
        trainer = SisganTrainer(generator, discriminator, context["conditioner"].encoder,
                                image_size=config.image_size, cls_weight=config.cls_weight,
                                kl_weight=config.kl_weight, z_dim=config.condition_dim, ema_decay=config.ema_decay,
                                weights_init=config.weights_init, seed=config.seed)
        trainer.compile(**optimizers.gan_optimizers(config, context["steps_per_epoch"]),
                        jit_compile=optimizers.jit_compile(config))
        return trainer
