"""`DamsmConditioner`: the frozen DAMSM text (and image) encoders of AttnGAN and its successors."""

from __future__ import annotations

import os
import shutil

from t2izoo import configs as config_lib
from t2izoo.conditioning.base import Conditioner
from t2izoo.data import text as text_lib
from t2izoo.errors import ConfigError


class DamsmConditioner(Conditioner):
    """Captions -> word ids int32 [B, T] + lengths int32 [B] (the DAMSM run's vocabulary) ->
    frozen bi-LSTM -> `{"words": [B, T, D], "sentence": [B, D], "lengths": [B]}`.

    It also holds the frozen DAMSM image encoder (`image_encoder`), for the DAMSM loss of the
    generator and for DAMSM-based metrics. A GAN run uses the DAMSM run's vocabulary: it is
    copied into a new run directory before the run loop reads it (`prepare_run_dir`), and a run
    directory whose vocabulary differs is refused.

    Args:
        encoder: the frozen `BiLstmTextEncoder`.
        vocab: the run's `Vocabulary` (the DAMSM one).
        max_words: caption length in words (T).
        image_encoder: the frozen DAMSM image encoder.
        damsm_config: the DAMSM run's `DamsmConfig`.
    """

    kind = "damsm"
    stored_config = "damsm_config.json"
    int8_note = ("the bi-LSTM is a WHILE loop, which full-integer calibration does not handle; "
                 "weights are int8, activations float")

    def __init__(self, encoder, vocab, max_words, image_encoder, damsm_config):
        super().__init__(encoder, vocab, max_words)
        self.image_encoder = image_encoder  # None in a converted, generation-only run
        if image_encoder is not None:
            image_encoder.trainable = False
        self.damsm_config = damsm_config
        self._table = None

    @property
    def dim(self) -> int:
        return self.encoder.feature_dim

    # -- finding the frozen encoders ----------------------------------------------------------------
    @classmethod
    def pretraining_overrides(cls, config):
        return super().pretraining_overrides(config) + [f"max_words={config.max_words}"]

    @classmethod
    def prepare_run_dir(cls, config, model_dir):
        """The GAN must see the DAMSM's word ids: copy its vocabulary into a new run directory."""
        source = os.path.join(cls.source_dir(config), text_lib.VOCAB_FILENAME)
        target = os.path.join(model_dir, text_lib.VOCAB_FILENAME)
        if os.path.exists(source) and not os.path.exists(target):
            os.makedirs(model_dir, exist_ok=True)
            shutil.copyfile(source, target)

    @classmethod
    def load_pretrained(cls, config, model_dir, vocab):
        from t2izoo.conditioning.damsm.pretrain import load_encoders

        source = cls.source_dir(config)
        text_encoder, image_encoder, damsm_config, damsm_vocab = load_encoders(source)
        if damsm_vocab != vocab:
            raise ConfigError(f"{model_dir}/{text_lib.VOCAB_FILENAME} differs from the DAMSM vocabulary of "
                              f"{source}: the word ids would not match its text encoder; use a new --model_dir")
        return cls.checked(text_encoder, vocab, config, image_encoder, damsm_config), config_lib.to_dict(damsm_config)

    @classmethod
    def rebuild(cls, description, config, vocab):
        import tensorflow as tf

        from t2izoo.conditioning.damsm.config import DamsmConfig
        from t2izoo.conditioning.damsm.pretrain import build_image_encoder, build_text_encoder

        damsm_config = config_lib.from_dict(DamsmConfig, description)
        text_encoder = build_text_encoder(damsm_config, len(vocab))
        image_encoder = build_image_encoder(damsm_config)
        s = damsm_config.image_size
        text_encoder((tf.ones((1, 2), tf.int32), tf.constant([2])))
        if image_encoder is not None:
            image_encoder(tf.zeros((1, s, s, 3)))
        return cls.checked(text_encoder, vocab, config, image_encoder, damsm_config)

    @classmethod
    def checked(cls, text_encoder, vocab, config, image_encoder, damsm_config):
        if damsm_config.embedding_dim != text_encoder.feature_dim:
            raise ConfigError(f"DAMSM embedding_dim {damsm_config.embedding_dim} != text features "
                              f"{text_encoder.feature_dim}")
        return cls(text_encoder, vocab, config.max_words, image_encoder, damsm_config)

    # -- text ---------------------------------------------------------------------------------------
    def token_specs(self):
        import tensorflow as tf

        return {"tokens": tf.TensorSpec([None, self.max_words], tf.int32, name="tokens"),
                "lengths": tf.TensorSpec([None], tf.int32, name="lengths")}

    def python_tokens(self, captions):
        tokens, lengths = self.vocab.encode_batch(captions, self.max_words)
        return {"tokens": tokens, "lengths": lengths}

    @property
    def table(self):
        """The vocabulary as a TF lookup table (made once: an export tracks it)."""
        if self._table is None:
            self._table = self.vocab.tf_table()
        return self._table

    def tf_tokens(self, captions):
        tokens, lengths = text_lib.Vocabulary.tf_tokenize(captions, self.table, self.max_words)
        return {"tokens": tokens, "lengths": lengths}

    def encode(self, tokens):
        from t2izoo.encoders.bilstm import damsm_text_conditioning

        return damsm_text_conditioning(self.encoder, tokens["tokens"], tokens["lengths"])

    def conditioning_specs(self, batch):
        import tensorflow as tf

        return [tf.TensorSpec([batch, self.max_words, self.dim], tf.float32, name="words"),
                tf.TensorSpec([batch, self.dim], tf.float32, name="sentence"),
                tf.TensorSpec([batch], tf.int32, name="lengths")]

    def resources(self):
        return [self.encoder, self.table]

    # -- training batches ---------------------------------------------------------------------------
    def example_batch(self, config):
        import tensorflow as tf

        t = config.max_words
        return {"tokens": tf.ones((2, t), tf.int32), "lengths": tf.constant([t, 1]),
                "wrong_tokens": tf.ones((2, t), tf.int32), "wrong_lengths": tf.constant([1, t]),
                "class_ids": tf.constant([0, 1]), "wrong_class_ids": tf.constant([1, 0])}

    # -- description for exports --------------------------------------------------------------------
    def encoder_description(self, batch):
        return (f"word ids int32 [{batch}, {self.max_words}] + lengths int32 [{batch}] -> words float32 "
                f"[{batch}, {self.max_words}, D], sentence float32 [{batch}, D]")

    def on_device_text(self):
        return {
            "kind": "words",
            "steps": ["lower-case the caption (Unicode lower-casing, as Python's str.lower)",
                      f"split it into words: the maximal runs of {text_lib.WORD_PATTERN}",
                      f"map each word to its id with `word_ids` (a word not listed is {text_lib.UNK_ID}, "
                      f"{text_lib.UNK_TOKEN})",
                      f"keep the first {self.max_words} ids, pad with {text_lib.PAD_ID}: tokens int32 "
                      f"[1, {self.max_words}]; lengths int32 [1] = the number kept",
                      "tokens, lengths -> text_encoder -> words, sentence; words, sentence, lengths -> generator"],
            "max_words": self.max_words,
            "word_pattern": text_lib.WORD_PATTERN,
            "padding_id": text_lib.PAD_ID,
            "unknown_id": text_lib.UNK_ID,
            "word_ids": {w: i for i, w in enumerate(self.vocab.words) if i >= 2},
        }
