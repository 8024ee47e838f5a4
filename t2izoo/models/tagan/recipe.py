"""TAGAN (Nam et al., NeurIPS 2018): text-guided image manipulation with a text-adaptive discriminator.

    python -m t2izoo.recipes.tagan --dataset=shapes                           # CPU-sized, from scratch
    python -m t2izoo.recipes.tagan --dataset=cub --data_dir=data/birds \
        --override word_vectors=wiki.en.vec                                   # the paper's set-up
    python -m t2izoo.manipulate --model_dir=runs/tagan_shapes --image=in.png --caption="..."

G and D each own a bi-GRU word encoder trained with them; with `word_vectors` both start from
the file's vectors (never downloaded) and keep them fixed, as the paper's fastText vectors.
"""

from __future__ import annotations

import os

import keras

from t2izoo.conditioning.word_tokens import WordTokenConditioner
from t2izoo.data.pipeline import PipelineOptions
from t2izoo.encoders.gru_text import load_word_vectors
from t2izoo.errors import ConfigError
from t2izoo.models.tagan.discriminator import TextAdaptiveDiscriminator
from t2izoo.models.tagan.generator import TaganGenerator
from t2izoo.models.tagan.trainer import TaganTrainer
from t2izoo.trainers import optimizers, run_loop


class TaganRecipe(run_loop.Recipe):
    name = "tagan"

    def pipeline_options(self, config):
        self.check_inputs(config, "")
        return PipelineOptions(image_sizes=(config.image_size,), batch_size=config.batch_size,
                               max_words=config.max_words, seed=config.seed)

    def check_inputs(self, config, model_dir):
        """The word-vector file the config names exists (nothing is downloaded)."""
        if config.word_vectors and not os.path.isfile(config.word_vectors):
            raise ConfigError(f"word_vectors={config.word_vectors}: no such file")

    def prepare(self, config, model_dir, vocab):
        return {"conditioner": WordTokenConditioner(vocab, config.max_words)}

    def build_networks(self, config, vocab_size: int):
        """(generator, discriminator), built."""
        sync = optimizers.sync_batch_norm(config)
        fixed = bool(config.word_vectors)
        generator = TaganGenerator(vocab_size, image_size=config.image_size, ngf=config.ngf,
                                   condition_dim=config.condition_dim, num_residual=config.num_residual,
                                   word_dim=config.word_dim, text_dim=config.text_dim, trainable_words=not fixed,
                                   sync_batch_norm=sync, name="generator")
        discriminator = TextAdaptiveDiscriminator(vocab_size, image_size=config.image_size, ndf=config.ndf,
                                                  word_dim=config.word_dim, text_dim=config.text_dim,
                                                  trainable_words=not fixed, sync_batch_norm=sync,
                                                  name="discriminator")
        s, t = config.image_size, 2
        images, tokens, lengths = keras.ops.zeros((1, s, s, 3)), keras.ops.ones((1, t), "int32"), keras.ops.array([t])
        generator((images, tokens, lengths, keras.ops.zeros((1, config.condition_dim))))
        discriminator((images, tokens, lengths))
        return generator, discriminator

    def build_trainer(self, config, context):
        vocab = context["vocab"]
        generator, discriminator = self.build_networks(config, len(vocab))
        if config.word_vectors and context.get("train_set") is not None:
            # A new or resumed training run (a resumed one then restores the same values); inference
            # restores them from the checkpoint without reading the file.
            table, found = load_word_vectors(config.word_vectors, vocab.words, config.word_dim, config.seed)
            for model in (generator, discriminator):
                model.text_encoder.words.embeddings.assign(table)
            print(f"[{self.name}] word vectors: {found} of {len(vocab) - 2} words found in {config.word_vectors}")
        trainer = TaganTrainer(generator, discriminator, image_size=config.image_size,
                               condition_dim=config.condition_dim, cond_weight=config.cond_weight,
                               recon_weight=config.recon_weight, kl_weight=config.kl_weight,
                               ema_decay=config.ema_decay, weights_init=config.weights_init, seed=config.seed)
        trainer.compile(**optimizers.gan_optimizers(config, context["steps_per_epoch"]),
                        jit_compile=optimizers.jit_compile(config))
        return trainer
