"""How each recipe's restored run turns captions into images with TF ops, for export.

An `ExportAdapter` is one code path for every recipe: a text pipeline (captions -> tokens ->
the generator's conditioning, in-graph and in Python) plus the recipe's generator call (EMA
weights). The SavedModel signatures (`t2izoo.export.saved_model`) and the TFLite parts
(`t2izoo.export.tflite`) are built from it. The text pipelines:

- `CharCnnRnnText` (GAN-INT-CLS, StackGAN, StackGAN++): char codes int32 [B, 201] -> frozen
  char-CNN-RNN -> `embedding` [B, D];
- `VocabularyText` (AttnGAN): word ids int32 [B, T] + `lengths` int32 [B] -> frozen DAMSM
  bi-LSTM -> `words` [B, T, D], `sentence` [B, D] (and `lengths` for the word mask).

A recipe adds an adapter with `@register_adapter("<recipe name>")`: its text pipeline
(`text_class`), `build_generators` (the EMA generator(s) it calls, made once) and `generate`
(conditioning + noise -> the final scale's images). See `GanIntClsAdapter` (4 lines of hooks).

Noise is the trainer's whole noise vector, `noise_dim` wide: z for GAN-INT-CLS; for the
conditioning-augmentation models (StackGAN, StackGAN++, AttnGAN) z followed by the CA noise of
each CA layer (`ConditioningNoiseMixin.split_noise`), so an exported image depends only on its
caption and its noise (seed), never on its row in the batch.
"""

from __future__ import annotations

import dataclasses
import inspect

import numpy as np

from t2izoo.data.text import char_code_table, tf_encode_chars  # noqa: F401 (re-exported)
from t2izoo.errors import ConfigError

NOISE_INPUT = "noise"
IMAGE_OUTPUT = "image"


# --------------------------------------------------------------------------------------
# Graph pieces shared by every recipe.
# --------------------------------------------------------------------------------------


def seeded_noise(seeds, width: int):
    """Noise [B, width]: row i is `tf.random.stateless_normal([width], seed=[seeds[i], 0])`.

    Args:
        seeds: int32 [B].
        width: noise size (the adapter's `noise_dim`).
    """
    import tensorflow as tf

    seeds = tf.convert_to_tensor(seeds, tf.int32)
    return tf.map_fn(lambda s: tf.random.stateless_normal([width], tf.stack([s, 0])), seeds,
                     fn_output_signature=tf.TensorSpec([width], tf.float32))


def to_uint8(images):
    """[-1, 1] float images -> uint8, rounding half to even like `Text2Image` (np.rint)."""
    import tensorflow as tf

    return tf.cast(tf.clip_by_value(tf.round((images + 1.0) * 127.5), 0.0, 255.0), tf.uint8)


def numpy_to_uint8(images) -> np.ndarray:
    return np.clip(np.rint((np.asarray(images) + 1.0) * 127.5), 0, 255).astype(np.uint8)


def named_function(names, body, input_signature):
    """A `tf.function` whose positional parameters are called `names` (so it takes keywords and
    its SavedModel signature uses them), calling `body(dict(zip(names, args)))`."""
    import tensorflow as tf

    def function(*args):
        return body(dict(zip(names, args)))

    function.__signature__ = inspect.Signature(
        [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names])
    return tf.function(function, input_signature=input_signature, autograph=False)


def sample_captions(config, split: str, num: int, rng) -> list:
    """`num` captions drawn without replacement (while there are enough) from a split's captions."""
    from t2izoo.trainers import run_loop

    captions = [c for caps in run_loop.load_dataset(config, split).captions for c in caps]
    return [captions[i] for i in rng.choice(len(captions), size=num, replace=len(captions) < num)]


# --------------------------------------------------------------------------------------
# TFLite parts.
# --------------------------------------------------------------------------------------


@dataclasses.dataclass
class TFLitePart:
    """One TFLite model of an export (e.g. the generator, or the text encoder).

    Args:
        name: file stem, e.g. "generator".
        function: a `tf.function` with a fixed-batch input signature (named TensorSpecs) that
            returns a dict of outputs; it is also the Keras reference for accuracy checks.
        trackables: Keras models (or TF resources) the function uses.
        representative: callable(num, rng, split="train") -> list of `num` input dicts
            (batch-sized numpy arrays keyed by input name) built from `split`'s captions: the
            int8 calibration data (train) or held-out inputs for accuracy figures (test).
        int8: what `--quantize=int8` means for this part: "full" (int8 weights and
            activations, calibrated) or "dynamic" (int8 weights only), with `int8_note` saying why.
        description: one line for model_info.json.
        forward: callable(dict of input tensors, any batch) -> the part's output tensor through
            `trackables` in inference mode, for int8 weight refinement (None: not refined).
        batched_inputs: callable(num, rng) -> dict of `num`-row numpy arrays keyed by input
            name (training captions), the refinement's data.
    """

    name: str
    function: object
    trackables: list
    representative: object = None
    int8: str = "full"
    int8_note: str = ""
    description: str = ""
    forward: object = None
    batched_inputs: object = None

    @property
    def input_names(self) -> list:
        return [spec.name for spec in self.function.input_signature]

    def keras(self, inputs: dict) -> dict:
        """The reference outputs (numpy) of the Keras models on numpy inputs keyed by name."""
        return {k: np.asarray(v) for k, v in self.function(**{n: inputs[n] for n in self.input_names}).items()}


def _batches(arrays: dict, num: int, batch_size: int) -> list:
    return [{k: v[i * batch_size:(i + 1) * batch_size] for k, v in arrays.items()} for i in range(num)]


# --------------------------------------------------------------------------------------
# Text pipelines.
# --------------------------------------------------------------------------------------


class CharCnnRnnText:
    """Captions -> char codes int32 [B, 201] -> the frozen char-CNN-RNN -> `embedding` [B, D]."""

    kind = "chars"
    int8_note = ("the char-CNN-RNN's GRU is a WHILE loop, which full-integer calibration does not handle; "
                 "weights are int8, activations float")

    def __init__(self, adapter):
        import tensorflow as tf

        from t2izoo.data import text as text_lib

        self.length = text_lib.CHAR_LENGTH
        self.encoder = adapter.trainer.text_encoder
        self.dim = self.encoder.embedding_dim
        self.token_specs = {"chars": tf.TensorSpec([None, self.length], tf.int32, name="chars")}

    def conditioning_specs(self, batch) -> list:
        import tensorflow as tf

        return [tf.TensorSpec([batch, self.dim], tf.float32, name="embedding")]

    def resources(self) -> list:
        return [self.encoder]

    def tokenize(self, captions) -> dict:
        return {"chars": tf_encode_chars(captions, self.length)}

    def encode(self, tokens) -> dict:
        return {"embedding": self.encoder(tokens["chars"], training=False)}

    def python_tokens(self, captions) -> dict:
        from t2izoo.data import text as text_lib

        return {"chars": np.stack([text_lib.encode_chars(c, self.length) for c in captions]).astype(np.int32)}

    def conditioning_samples(self, captions) -> dict:
        from t2izoo.recipes import char_cnn_rnn

        return {"embedding": char_cnn_rnn.encode_captions(self.encoder, captions).astype(np.float32)}

    def encoder_description(self, batch) -> str:
        return f"char codes int32 [{batch}, {self.length}] -> sentence embedding float32 [{batch}, D]"

    def on_device_text(self) -> dict:
        from t2izoo.data import text as text_lib

        table = char_code_table()
        return {
            "kind": self.kind,
            "steps": ["lower-case the caption (Unicode lower-casing, as Python's str.lower)",
                      f"take its first {self.length} characters (code points)",
                      "map each to its code with `char_codes` (any character not listed is 0)",
                      f"pad with 0 to {self.length}: chars int32 [1, {self.length}] -> text_encoder"],
            "char_length": self.length,
            "char_codes": {chr(c): int(table[c]) for c in range(128) if table[c] and chr(c) == chr(c).lower()},
            "alphabet": text_lib.ALPHABET,
        }


class VocabularyText:
    """Captions -> word ids int32 [B, T] + lengths int32 [B] -> the frozen DAMSM bi-LSTM ->
    `words` [B, T, D] and `sentence` [B, D] (`lengths` goes on to the generator's word mask)."""

    kind = "words"
    int8_note = ("the bi-LSTM is a WHILE loop, which full-integer calibration does not handle; "
                 "weights are int8, activations float")

    def __init__(self, adapter):
        import tensorflow as tf

        self.vocab = adapter.t2i.vocab
        self.max_words = adapter.config.max_words
        self.encoder = adapter.trainer.text_encoder
        self.dim = self.encoder.feature_dim
        self.table = self.vocab.tf_table()
        self.token_specs = {"tokens": tf.TensorSpec([None, self.max_words], tf.int32, name="tokens"),
                            "lengths": tf.TensorSpec([None], tf.int32, name="lengths")}

    def conditioning_specs(self, batch) -> list:
        import tensorflow as tf

        return [tf.TensorSpec([batch, self.max_words, self.dim], tf.float32, name="words"),
                tf.TensorSpec([batch, self.dim], tf.float32, name="sentence"),
                tf.TensorSpec([batch], tf.int32, name="lengths")]

    def resources(self) -> list:
        return [self.encoder, self.table]

    def tokenize(self, captions) -> dict:
        from t2izoo.data.text import Vocabulary

        tokens, lengths = Vocabulary.tf_tokenize(captions, self.table, self.max_words)
        return {"tokens": tokens, "lengths": lengths}

    def encode(self, tokens) -> dict:
        words, sentence = self.encoder((tokens["tokens"], tokens["lengths"]), training=False)
        return {"words": words, "sentence": sentence, "lengths": tokens["lengths"]}

    def python_tokens(self, captions) -> dict:
        encoded = [self.vocab.encode(c, self.max_words) for c in captions]
        return {"tokens": np.stack([e[0] for e in encoded]).astype(np.int32),
                "lengths": np.array([max(e[1], 1) for e in encoded], np.int32)}

    def conditioning_samples(self, captions) -> dict:
        from t2izoo.recipes import damsm

        words, sentence, _, lengths = damsm.encode_captions(self.encoder, self.vocab, captions, self.max_words)
        return {"words": np.asarray(words, np.float32), "sentence": np.asarray(sentence, np.float32),
                "lengths": np.asarray(lengths, np.int32)}

    def encoder_description(self, batch) -> str:
        return (f"word ids int32 [{batch}, {self.max_words}] + lengths int32 [{batch}] -> words float32 "
                f"[{batch}, {self.max_words}, D], sentence float32 [{batch}, D]")

    def on_device_text(self) -> dict:
        from t2izoo.data import text as text_lib

        return {
            "kind": self.kind,
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


# --------------------------------------------------------------------------------------
# Adapters.
# --------------------------------------------------------------------------------------


class ExportAdapter:
    """How a recipe's restored run turns captions into images with TF ops, for export.

    The generic part (this class) does the text (through `text_class`), the noise, the TFLite
    parts and the Keras reference; a subclass per recipe, registered with
    `@register_adapter(recipe_name)`, says which generator(s) it calls and how.

    Args:
        t2i: a `t2izoo.generate.Text2Image` (restored run: recipe, config, trainer, vocab).
        use_ema: export the EMA generator (False: the live one, for a checkpoint without EMA
            weights; see `t2izoo.export.saved_model.ema_weights_restored`).
    """

    #: the text pipeline class (`CharCnnRnnText` or `VocabularyText`).
    text_class = CharCnnRnnText

    def __init__(self, t2i, use_ema: bool = True):
        self.t2i = t2i
        self.use_ema = use_ema
        self.config = t2i.config
        self.trainer = t2i.trainer
        self.z_dim = self.config.z_dim
        noise_width = getattr(self.trainer, "noise_width", None)
        self.noise_dim = noise_width() if noise_width else self.z_dim
        self.image_size = max(getattr(self.config, "image_sizes", None) or (self.config.image_size,))
        self.text = self.text_class(self)
        #: name -> tf.TensorSpec of the token inputs, batch dimension None.
        self.token_specs = self.text.token_specs
        self.generators = self.build_generators()

    # -- per-recipe hooks ------------------------------------------------------------------------
    def build_generators(self) -> list:
        """Makes the generator model(s) `generate` calls (EMA weights synced once) and returns them."""
        raise NotImplementedError

    def generate(self, conditioning: dict, noise):
        """Conditioning (the text pipeline's) and noise [B, noise_dim] -> images [B, S, S, 3] in [-1, 1]."""
        raise NotImplementedError

    # -- shared ----------------------------------------------------------------------------------
    def ema_or_live(self, example_inputs):
        """The trainer's EMA generator filled with its EMA weights (built on `example_inputs`), or
        the live generator when `use_ema` is False."""
        return self.trainer.sync_ema_generator(example_inputs) if self.use_ema else self.trainer.generator

    def zeros(self, *shape):
        import tensorflow as tf

        return tf.zeros(shape)

    def split_noise(self, noise):
        """(z, [CA noise, ...]) of a `noise_dim`-wide noise, as the trainer splits it."""
        return self.trainer.split_noise(noise)

    def resources(self) -> list:
        """Models and lookup tables the signatures use (tracked by the ExportArchive)."""
        return self.text.resources() + list(self.generators)

    def tokenize(self, captions) -> dict:
        """captions string [B] -> token inputs (as `token_specs`), stock TF ops only."""
        return self.text.tokenize(captions)

    def encode(self, tokens: dict) -> dict:
        """Token inputs -> the generator's text conditioning."""
        return self.text.encode(tokens)

    def python_tokens(self, captions) -> dict:
        """The token inputs computed in Python (numpy), to check `tokenize` against."""
        return self.text.python_tokens(captions)

    def on_device_text(self) -> dict:
        """How a phone turns a caption into the first TFLite part's inputs (model_info.json)."""
        return self.text.on_device_text()

    def generator_inputs(self, num: int, rng, split: str = "train", batch_size: int = 1) -> list:
        """`num` generator input dicts (conditioning of `split`'s captions + standard-normal noise)."""
        captions = sample_captions(self.config, split, num * batch_size, rng)
        arrays = dict(self.text.conditioning_samples(captions))
        arrays[NOISE_INPUT] = rng.standard_normal((num * batch_size, self.noise_dim)).astype(np.float32)
        return _batches(arrays, num, batch_size)

    def tflite_parts(self, batch_size: int = 1) -> list:
        """The `TFLitePart`s a phone needs to go from caption to image: text encoder, generator."""
        import tensorflow as tf

        text = self.text
        token_specs = [tf.TensorSpec([batch_size, *s.shape[1:]], s.dtype, name=s.name)
                       for s in self.token_specs.values()]
        token_names = [s.name for s in token_specs]
        outputs = [s.name for s in text.conditioning_specs(batch_size) if s.name not in token_names]
        encode = named_function(token_names, lambda t: {k: v for k, v in text.encode(t).items() if k in outputs},
                                token_specs)
        condition_specs = text.conditioning_specs(batch_size)
        noise_spec = tf.TensorSpec([batch_size, self.noise_dim], tf.float32, name=NOISE_INPUT)
        names = [s.name for s in condition_specs] + [NOISE_INPUT]
        generate = named_function(names, lambda x: {IMAGE_OUTPUT: self.generate(x, x[NOISE_INPUT])},
                                  condition_specs + [noise_spec])

        def encoder_data(num, rng, split="train"):
            captions = sample_captions(self.config, split, num * batch_size, rng)
            return _batches(text.python_tokens(captions), num, batch_size)

        def generator_data(num, rng, split="train"):
            return self.generator_inputs(num, rng, split, batch_size)

        s = self.image_size
        conditioning = ", ".join(f"{c.name} {c.dtype.name} {c.shape.as_list()}" for c in condition_specs)
        return [
            TFLitePart("text_encoder", encode, [text.encoder], encoder_data, int8="dynamic",
                       int8_note=text.int8_note, description=text.encoder_description(batch_size)),
            TFLitePart("generator", generate, list(self.generators), generator_data,
                       forward=lambda x: self.generate(x, x[NOISE_INPUT]),
                       batched_inputs=lambda num, rng: self.generator_inputs(1, rng, "train", batch_size=num)[0],
                       description=f"{conditioning} + noise float32 [{batch_size}, {self.noise_dim}] (standard "
                                   f"normal) -> image float32 [{batch_size}, {s}, {s}, 3] in [-1, 1]"),
        ]

    def reference_images(self, captions, seeds) -> np.ndarray:
        """uint8 images from the Keras run itself (as `Text2Image` computes them), with the
        export's per-row noise and generator (EMA or live), for checking exports against."""
        captions = self.t2i.check_captions(captions)
        conditioning = self.t2i.recipe.conditioning(self.trainer, captions)
        noise = seeded_noise(np.asarray(seeds, np.int32), self.noise_dim)
        kwargs = {} if self.use_ema else {"use_ema": False}
        return numpy_to_uint8(self.trainer.generate(conditioning, noise, **kwargs))


_ADAPTERS: dict = {}


def register_adapter(recipe_name: str):
    """Class decorator registering an `ExportAdapter` for the recipe called `recipe_name`."""

    def register(cls):
        _ADAPTERS[recipe_name] = cls
        return cls

    return register


def adapter_for(t2i, use_ema: bool = True) -> ExportAdapter:
    """The registered adapter for `t2i`'s recipe (a recipe may also set `export_adapter`)."""
    cls = getattr(t2i.recipe, "export_adapter", None) or _ADAPTERS.get(t2i.recipe.name)
    if cls is None:
        raise ConfigError(
            f"recipe {t2i.recipe.name!r} has no export adapter; register one with "
            f"@t2izoo.export.adapters.register_adapter({t2i.recipe.name!r}) (known: {sorted(_ADAPTERS)})")
    return cls(t2i, use_ema=use_ema)


@register_adapter("gan_int_cls")
class GanIntClsAdapter(ExportAdapter):
    """GAN-INT-CLS: char-CNN-RNN embedding + z -> EMA DCGAN generator."""

    def build_generators(self):
        self.generator = self.ema_or_live((self.zeros(1, self.z_dim), self.zeros(1, self.text.dim)))
        return [self.generator]

    def generate(self, conditioning, noise):
        return self.generator((noise, conditioning["embedding"]), training=False)


@register_adapter("stackgan")
class StackGanAdapter(ExportAdapter):
    """StackGAN: Stage-I run: CA + EMA Stage-I generator. Stage-II run: the frozen Stage-I
    generator's image -> EMA Stage-II generator (its own CA), the final 2x-4x larger scale."""

    def build_generators(self):
        stage1, ca = self.trainer.stage1_generator, self.trainer.condition_dim()
        embedding = self.zeros(1, self.text.dim)
        if stage1 is None:
            self.generator = self.ema_or_live((self.zeros(1, self.z_dim), embedding, self.zeros(1, ca)))
            return [self.generator]
        low = self.zeros(1, stage1.image_size, stage1.image_size, 3)
        self.generator = self.ema_or_live((low, embedding, self.zeros(1, ca)))
        return [stage1, self.generator]

    def generate(self, conditioning, noise):
        z, eps = self.split_noise(noise)
        embedding, stage1 = conditioning["embedding"], self.trainer.stage1_generator
        if stage1 is None:
            return self.generator((z, embedding, eps[0]), training=False)[0]
        low = stage1((z, embedding, eps[0]), training=False)[0]
        return self.generator((low, embedding, eps[1]), training=False)[0]


@register_adapter("stackgan_v2")
class StackGanV2Adapter(ExportAdapter):
    """StackGAN++: CA + EMA tree generator; the largest of its scales."""

    def build_generators(self):
        ca = self.trainer.condition_dim()
        self.generator = self.ema_or_live(
            (self.zeros(1, self.z_dim), self.zeros(1, self.text.dim), self.zeros(1, ca)))
        return [self.generator]

    def generate(self, conditioning, noise):
        z, eps = self.split_noise(noise)
        return self.generator((z, conditioning["embedding"], eps[0]), training=False)[0][-1]


@register_adapter("attngan")
class AttnGanAdapter(ExportAdapter):
    """AttnGAN: DAMSM bi-LSTM words + sentence, CA + EMA attention generator; the largest scale."""

    text_class = VocabularyText

    def build_generators(self):
        import tensorflow as tf

        t, d, ca = self.text.max_words, self.text.dim, self.trainer.condition_dim()
        self.generator = self.ema_or_live((self.zeros(1, self.z_dim), self.zeros(1, d), self.zeros(1, t, d),
                                           tf.ones((1, t), tf.bool), self.zeros(1, ca)))
        return [self.generator]

    def generate(self, conditioning, noise):
        from t2izoo.encoders.bilstm import word_mask

        z, eps = self.split_noise(noise)
        words = conditioning["words"]
        mask = word_mask(conditioning["lengths"], words.shape[1])
        inputs = (z, conditioning["sentence"], words, mask, eps[0])
        return self.generator(inputs, training=False)[0][-1]
