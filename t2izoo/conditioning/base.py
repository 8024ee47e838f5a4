"""`Conditioner`: what a family needs from its frozen text encoder, written once per encoder kind.

A conditioner owns one kind of pretrained, frozen text encoder (char-CNN-RNN sentence
embeddings; DAMSM words + sentence) and everything around it: finding its pretraining run (or
pretraining one on `shapes`), what a run directory keeps so that it alone can generate, the
vocabulary, tokenization in Python and in the graph, encoding, the batch keys its families train
on, and how a phone tokenizes. Recipes, sample grids, `t2izoo.generate`, `t2izoo.evaluate` and
both export formats reach the encoder only through it.

The generator's text conditioning is a dict of tensors: `encode(tokens)` makes it from token
inputs, a family's `GANTrainer.batch_conditioning` from a training batch, and
`GANTrainer.generate(conditioning, noise)` consumes it.
"""

from __future__ import annotations

import os

import numpy as np

from t2izoo.errors import CheckpointError
from t2izoo.utils.files import write_json_atomic

# `text_encoder_dir` of a run that keeps its frozen encoder itself (converted from official
# checkpoints): its config file in the run directory, its weights in the run's checkpoint.
STORED = "stored"


class Conditioner:
    """Base class; see `CharCnnRnnConditioner` and `DamsmConditioner`.

    Subclasses set `kind` (the pretraining family's name) and `stored_config` (the file a run
    directory keeps to rebuild the encoder without the pretraining run), and implement the text
    methods below. The pretraining run is the config's `text_encoder_dir` (`GanRunConfig`).
    """

    kind = ""
    stored_config = ""
    #: why full-integer int8 does not apply to this encoder's TFLite file.
    int8_note = ""

    def __init__(self, encoder, vocab, max_words: int):
        self.encoder = encoder
        self.vocab = vocab
        self.max_words = max_words
        encoder.trainable = False

    # -- finding the frozen encoder -----------------------------------------------------------------
    @classmethod
    def source_dir(cls, config) -> str:
        """The pretraining run: the config's `text_encoder_dir`, default runs/<kind>_<dataset>."""
        return config.text_encoder_dir or os.path.join("runs", f"{cls.kind}_{config.dataset}")

    @classmethod
    def has_pretrained(cls, config) -> bool:
        if config.text_encoder_dir == STORED:
            return False
        return os.path.exists(os.path.join(cls.source_dir(config), "checkpoints", "checkpoint"))

    @classmethod
    def ensure_pretrained(cls, config, max_minutes: float = 0.0):
        """Pretrains the encoder on `shapes` (its preset, with this run's data fields) when its
        run is missing; elsewhere `for_run` says what to run."""
        if cls.has_pretrained(config) or config.dataset != "shapes" or config.text_encoder_dir == STORED:
            return
        from t2izoo import configs as config_lib
        from t2izoo import registry

        family = registry.get(cls.kind)
        source = cls.source_dir(config)
        print(f"[{cls.kind}] no pretrained {cls.kind} in {source}: pretraining it on shapes first")
        pretrain_config = config_lib.apply_overrides(family.presets["shapes"], cls.pretraining_overrides(config)
                                                     + [f"max_minutes={max_minutes}"])
        from t2izoo.trainers import run_loop

        run_loop.train(family.make_recipe(), pretrain_config, source)

    @classmethod
    def pretraining_overrides(cls, config) -> list:
        """Fields of the GAN's config its encoder's pretraining shares."""
        return [f"shapes_train={config.shapes_train}", f"shapes_test={config.shapes_test}", f"seed={config.seed}"]

    @classmethod
    def missing_message(cls, config) -> str:
        return (f"no pretrained {cls.kind} in {cls.source_dir(config)}: run `python -m t2izoo.recipes.{cls.kind} "
                f"--dataset={config.dataset} --model_dir={cls.source_dir(config)}` first, or pass "
                f"--override text_encoder_dir=...")

    @classmethod
    def check_available(cls, config, model_dir: str):
        """CheckpointError unless `for_run` will find the encoder (reads only)."""
        if not cls.has_pretrained(config) and not os.path.exists(os.path.join(model_dir, cls.stored_config)):
            raise CheckpointError(cls.missing_message(config))

    @classmethod
    def prepare_run_dir(cls, config, model_dir: str):
        """Called before the run loop reads or builds `model_dir`'s vocabulary (e.g. to copy the
        encoder's own)."""

    @classmethod
    def for_run(cls, config, model_dir: str, vocab) -> "Conditioner":
        """The frozen encoder of the run in `model_dir`: from the pretraining run when it is
        there (its config is then stored in `model_dir`), else rebuilt from what `model_dir`
        stored (its weights come with the GAN's checkpoint)."""
        stored = os.path.join(model_dir, cls.stored_config)
        if cls.has_pretrained(config):
            conditioner, description = cls.load_pretrained(config, model_dir, vocab)
            write_json_atomic(stored, description, indent=2, sort_keys=True)
            return conditioner
        if os.path.exists(stored):
            import json

            with open(stored) as f:
                return cls.rebuild(json.load(f), config, vocab)
        raise CheckpointError(cls.missing_message(config))

    @classmethod
    def load_pretrained(cls, config, model_dir: str, vocab):
        """(conditioner, JSON description to rebuild it) from the pretraining run."""
        raise NotImplementedError

    @classmethod
    def rebuild(cls, description: dict, config, vocab) -> "Conditioner":
        raise NotImplementedError

    # -- text ---------------------------------------------------------------------------------------
    #: name -> tf.TensorSpec of the token inputs (batch dimension None).
    def token_specs(self) -> dict:
        raise NotImplementedError

    def python_tokens(self, captions) -> dict:
        """Token inputs (numpy) of caption strings."""
        raise NotImplementedError

    def tf_tokens(self, captions) -> dict:
        """captions string [B] -> token inputs, in the graph with stock TF ops (no tensorflow-text)."""
        raise NotImplementedError

    def encode(self, tokens: dict) -> dict:
        """Token inputs -> the generator's text conditioning (traceable)."""
        raise NotImplementedError

    def conditioning(self, captions) -> dict:
        """The generator's conditioning (tensors) of caption strings."""
        import tensorflow as tf

        return self.encode({k: tf.constant(v) for k, v in self.python_tokens(captions).items()})

    def conditioning_specs(self, batch) -> list:
        """tf.TensorSpecs of the conditioning (the TFLite generator's text inputs)."""
        raise NotImplementedError

    def conditioning_samples(self, captions, batch_size: int = 256) -> dict:
        """The conditioning of many captions as numpy arrays, encoded in batches."""
        chunks = [self.conditioning(captions[i:i + batch_size]) for i in range(0, len(captions), batch_size)]
        return {k: np.concatenate([np.asarray(c[k]) for c in chunks]) for k in chunks[0]}

    def resources(self) -> list:
        """Models and lookup tables the in-graph path uses (an export tracks them)."""
        return [self.encoder]

    # -- training batches ---------------------------------------------------------------------------
    def caption_embeddings(self, model_dir: str, image_set):
        """Optional [N, C, D] precomputed caption embeddings for the pipeline (None: batches
        carry tokens)."""
        return None

    def example_batch(self, config) -> dict:
        """The text keys of a two-example training batch (to build a trainer before a restore)."""
        raise NotImplementedError

    # -- description for exports --------------------------------------------------------------------
    def encoder_description(self, batch) -> str:
        raise NotImplementedError

    def on_device_text(self) -> dict:
        """How a phone turns a caption into the TFLite text encoder's inputs (model_info.json)."""
        raise NotImplementedError
