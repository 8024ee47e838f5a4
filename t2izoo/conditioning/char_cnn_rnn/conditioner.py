"""`CharCnnRnnConditioner`: the frozen char-CNN-RNN sentence embedding of GAN-INT-CLS, StackGAN and
StackGAN++."""

from __future__ import annotations

import os

import numpy as np

from t2izoo.conditioning.base import Conditioner
from t2izoo.data import text as text_lib
from t2izoo.errors import ConfigError
from t2izoo.utils.files import save_npy_atomic

# The key of a stored encoder description that holds a `CharEmbeddingTable`'s config.
TABLE = "official_embedding_table"
NOT_IN_TABLE = ("not among the %d whose official char-CNN-RNN embeddings this run holds (it has no encoder for "
                "new text)")


class CharCnnRnnConditioner(Conditioner):
    """Captions -> char codes int32 [B, 201] -> frozen char-CNN-RNN -> `{"embedding": [B, D]}`.

    Training batches carry precomputed embeddings (`embedding`, `wrong_embedding`: the mean of
    `num_embeddings` caption embeddings, as icml2016 does); they are computed once per run by
    `caption_embeddings` and cached in the run directory.

    Args:
        encoder: the frozen `CharCnnRnnEncoder`.
        vocab: the run's `Vocabulary` (checks captions; not used for encoding).
        max_words: the run's caption length in words.

    Example:
        >>> conditioner = CharCnnRnnConditioner.for_run(config, model_dir, vocab)
        >>> conditioning = conditioner.conditioning(["a large red circle in the center"])
        >>> images = trainer.generate(conditioning, noise)
    """

    kind = "char_cnn_rnn"
    stored_config = "text_encoder.json"
    int8_note = ("the char-CNN-RNN's GRU is a WHILE loop, which full-integer calibration does not handle; "
                 "weights are int8, activations float")

    @property
    def dim(self) -> int:
        return self.encoder.embedding_dim

    # -- finding the frozen encoder -----------------------------------------------------------------
    @classmethod
    def load_pretrained(cls, config, model_dir, vocab):
        from t2izoo.conditioning.char_cnn_rnn.pretrain import load_text_encoder

        encoder = load_text_encoder(cls.source_dir(config))
        return cls(encoder, vocab, config.max_words), encoder.get_config()

    @classmethod
    def rebuild(cls, description, config, vocab):
        import tensorflow as tf

        if TABLE in description:  # the official Torch7 encoder's outputs (`official.py`)
            from t2izoo.encoders.char_embedding_table import CharEmbeddingTable

            encoder = CharEmbeddingTable(**description[TABLE])
        else:
            from t2izoo.encoders.char_cnn_rnn import CharCnnRnnEncoder

            encoder = CharCnnRnnEncoder.from_config(description)
        encoder(tf.zeros((1, text_lib.CHAR_LENGTH), tf.int32))
        return cls(encoder, vocab, config.max_words)

    @property
    def is_table(self) -> bool:
        """True when the encoder is the official encoder's table of outputs (a converted StackGAN-v2
        run): it embeds only the captions it holds."""
        return hasattr(self.encoder, "lookup")

    def table_embeddings(self, captions, batch_size: int = 256) -> np.ndarray:
        """A table encoder's embeddings [len(captions), D] (numpy), one lookup per batch; ConfigError
        naming the captions it does not hold."""
        chars = self.python_tokens(captions)["chars"]
        embeddings, found = [np.zeros((0, self.dim), np.float32)], [np.ones(0, bool)]
        for i in range(0, len(chars), batch_size):
            rows, ok = self.encoder.lookup(chars[i:i + batch_size])
            embeddings.append(np.asarray(rows))
            found.append(np.asarray(ok))
        found = np.concatenate(found)
        if not found.all():
            missing = [c for c, ok in zip(captions, found) if not ok]
            raise ConfigError(f"{len(missing)} of {len(captions)} captions are "
                              f"{NOT_IN_TABLE % self.encoder.num_captions}, e.g. {missing[0]!r}")
        return np.concatenate(embeddings)

    def conditioning(self, captions):
        if not self.is_table:
            return super().conditioning(captions)
        import tensorflow as tf

        return {"embedding": tf.constant(self.table_embeddings(list(captions)))}

    # -- text ---------------------------------------------------------------------------------------
    def token_specs(self):
        import tensorflow as tf

        return {"chars": tf.TensorSpec([None, text_lib.CHAR_LENGTH], tf.int32, name="chars")}

    def python_tokens(self, captions):
        chars = [text_lib.encode_chars(c) for c in captions]
        return {"chars": np.stack(chars).astype(np.int32) if chars else np.zeros((0, text_lib.CHAR_LENGTH), np.int32)}

    def tf_tokens(self, captions):
        return {"chars": text_lib.tf_encode_chars(captions, text_lib.CHAR_LENGTH)}

    def encode(self, tokens):
        if not self.is_table:
            return {"embedding": self.encoder(tokens["chars"], training=False)}
        import tensorflow as tf

        embedding, found = self.encoder.lookup(tokens["chars"])
        # In a served graph an unknown caption stops the request with this message (TFLite drops
        # the check: its text encoder returns zeros for one).
        check = tf.debugging.Assert(tf.reduce_all(found), [NOT_IN_TABLE % self.encoder.num_captions])
        with tf.control_dependencies([check]):
            return {"embedding": tf.identity(embedding)}

    def embed(self, captions, batch_size: int = 256) -> np.ndarray:
        """Embeddings [len(captions), D] (numpy) of caption strings, in batches (the pretraining's
        `encode_captions`, the one batched char-CNN-RNN encoding)."""
        from t2izoo.conditioning.char_cnn_rnn.pretrain import encode_captions

        if self.is_table:
            return self.table_embeddings(list(captions), batch_size)
        return encode_captions(self.encoder, list(captions), batch_size)

    def conditioning_specs(self, batch):
        import tensorflow as tf

        return [tf.TensorSpec([batch, self.dim], tf.float32, name="embedding")]

    # -- training batches ---------------------------------------------------------------------------
    def caption_embeddings(self, model_dir, image_set):
        """[N, C, D]: every caption of `image_set` embedded, cached as
        `<model_dir>/caption_embeddings_<split>.npy`."""
        path = os.path.join(model_dir, f"caption_embeddings_{image_set.split}.npy")
        shape = (len(image_set), max(len(c) for c in image_set.captions), self.dim)
        if os.path.exists(path):
            cached = np.load(path, mmap_mode="r")
            if cached.shape == shape:
                return cached
        flat = [c for caps in image_set.captions for c in caps]
        print(f"[{self.kind}] embedding {len(flat)} {image_set.split} captions with the frozen char-CNN-RNN ...")
        vectors = self.embed(flat)
        out = np.zeros(shape, np.float32)
        k = 0
        for i, caps in enumerate(image_set.captions):
            out[i, : len(caps)] = vectors[k: k + len(caps)]
            k += len(caps)
        save_npy_atomic(path, out)
        return out

    def example_batch(self, config):
        import tensorflow as tf

        return {"embedding": tf.zeros((2, self.dim)), "wrong_embedding": tf.zeros((2, self.dim))}

    # -- description for exports --------------------------------------------------------------------
    def encoder_description(self, batch):
        if self.is_table:
            return (f"char codes int32 [{batch}, {text_lib.CHAR_LENGTH}] -> the official char-CNN-RNN embedding "
                    f"float32 [{batch}, D] of one of the {self.encoder.num_captions} captions it holds "
                    f"(zeros for any other)")
        return f"char codes int32 [{batch}, {text_lib.CHAR_LENGTH}] -> sentence embedding float32 [{batch}, D]"

    def on_device_text(self):
        table = text_lib.char_code_table()
        length = text_lib.CHAR_LENGTH
        return {
            "kind": "chars",
            "steps": ["lower-case the caption (Unicode lower-casing, as Python's str.lower)",
                      f"take its first {length} characters (code points)",
                      "map each to its code with `char_codes` (any character not listed is 0)",
                      f"pad with 0 to {length}: chars int32 [1, {length}] -> text_encoder"],
            "char_length": length,
            "char_codes": {chr(c): int(table[c]) for c in range(128) if table[c] and chr(c) == chr(c).lower()},
            "alphabet": text_lib.ALPHABET,
        }
