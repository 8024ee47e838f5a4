"""SavedModel export for TF Serving: captions in, uint8 images out, from a trained run's EMA generator.

    python -m t2izoo.export --model_dir=runs/gan_int_cls_shapes --format=saved_model --out=/tmp/export

writes `BASE/<model_name>/<version>/` (TF Serving's layout; `<model_name>` defaults to
`<dataset>_<recipe>`, e.g. `shapes_gan_int_cls`, and `<version>` to one more than the highest
present) with these signatures:

| signature              | inputs                                        | outputs                      |
|------------------------|-----------------------------------------------|------------------------------|
| `serving_default`      | `captions` string [B]                         | `images` uint8 [B, H, W, 3]  |
| `generate_seeded`      | `captions` string [B], `seed` int32 [B]       | `images` uint8 [B, H, W, 3]  |
| `generate_from_tokens` | the recipe's token inputs (GAN-INT-CLS: `chars` int32 [B, 201]), `seed` int32 [B] | `images` |
| `tokenize`             | `captions` string [B]                         | the token inputs             |

Everything happens in the graph with ops that stock TF Serving has (no tensorflow-text):
tokenization, text encoder, EMA generator, and the conversion to uint8
(`round((x + 1) * 127.5)`, as `Text2Image` does). Row i's noise is
`tf.random.stateless_normal([z_dim], seed=[seed_i, 0])`, so an image depends only on its caption
and seed, never on the other rows of the batch (TF Serving's batching merges requests).
`serving_default` uses seed 0 for every row: TF Serving requires every declared input, so the
seed lives in its own signature. Captions that hold no word or are not UTF-8 are refused in the
graph with INVALID_ARGUMENT, so a bare `tensorflow_model_server` gives a clear error too.

Each recipe says how its run maps captions to images through an `ExportAdapter`
(`@register_adapter("<recipe name>")`); see `GanIntClsAdapter`.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import time
import warnings
from typing import Optional

import numpy as np

from t2izoo.errors import CheckpointError, ConfigError

SERVING_SIGNATURE = "serving_default"
SEEDED_SIGNATURE = "generate_seeded"
TOKENS_SIGNATURE = "generate_from_tokens"
TOKENIZE_SIGNATURE = "tokenize"
DEFAULT_SEED = 0
IMAGES_OUTPUT = "images"
# TF Serving (and t2izoo.export.server) refuse these in model names.
_MODEL_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


# --------------------------------------------------------------------------------------
# Graph pieces shared by every recipe.
# --------------------------------------------------------------------------------------


def seeded_noise(seeds, z_dim: int):
    """Noise [B, z_dim]: row i is `tf.random.stateless_normal([z_dim], seed=[seeds[i], 0])`.

    Args:
        seeds: int32 [B].
        z_dim: noise size.
    """
    import tensorflow as tf

    seeds = tf.convert_to_tensor(seeds, tf.int32)
    return tf.map_fn(lambda s: tf.random.stateless_normal([z_dim], tf.stack([s, 0])), seeds,
                     fn_output_signature=tf.TensorSpec([z_dim], tf.float32))


def to_uint8(images):
    """[-1, 1] float images -> uint8, rounding half to even like `Text2Image` (np.rint)."""
    import tensorflow as tf

    return tf.cast(tf.clip_by_value(tf.round((images + 1.0) * 127.5), 0.0, 255.0), tf.uint8)


def numpy_to_uint8(images) -> np.ndarray:
    return np.clip(np.rint((np.asarray(images) + 1.0) * 127.5), 0, 255).astype(np.uint8)


def char_code_table() -> np.ndarray:
    """int32 [128]: the char-CNN-RNN code of each ASCII code point, from `encode_chars` itself."""
    from t2izoo.data import text as text_lib

    return np.array([text_lib.encode_chars(chr(c), 1)[0] for c in range(128)], np.int32)


def tf_encode_chars(captions, length: Optional[int] = None):
    """`encode_chars` in graph ops without a lookup-table resource: string [B] -> int32 [B, length].

    `t2izoo.data.text.tf_encode_chars` builds a `StaticHashTable` on every call, which a
    SavedModel cannot hold (an untracked resource captured by the signature). Here the
    alphabet is a constant [128] vector indexed by code point (every alphabet symbol is
    ASCII; other code points get 0, as in `encode_chars`). Lower-casing is Unicode-aware like
    Python's `str.lower` (e.g. the Kelvin sign becomes "k").
    """
    import tensorflow as tf

    from t2izoo.data import text as text_lib

    length = length or text_lib.CHAR_LENGTH
    table = tf.constant(char_code_table())
    lowered = tf.strings.lower(captions, encoding="utf-8")
    points = tf.strings.unicode_decode(lowered, "UTF-8", errors="replace")[:, :length]
    codes = tf.ragged.map_flat_values(
        lambda p: tf.where(p < 128, tf.gather(table, tf.clip_by_value(p, 0, 127)), 0), points)
    return tf.cast(codes.to_tensor(default_value=0, shape=[None, length]), tf.int32)


def check_captions_in_graph(captions):
    """Returns `captions` after in-graph checks: valid UTF-8 and at least one word each.

    The same rules as `t2izoo.data.text.check_caption`; a failure is an InvalidArgumentError
    whose message names the problem (TF Serving returns it as INVALID_ARGUMENT).
    """
    import tensorflow as tf

    valid = tf.equal(tf.strings.unicode_transcode(captions, "UTF-8", "UTF-8", errors="replace"), captions)
    words = tf.strings.regex_full_match(tf.strings.lower(captions, encoding="utf-8"), r"(?s).*[a-z0-9_].*")
    checks = [
        tf.debugging.assert_equal(tf.reduce_all(valid), True, message="a caption is not valid UTF-8"),
        tf.debugging.assert_equal(tf.reduce_all(words), True,
                                  message="a caption is empty (it has no letters or digits)"),
    ]
    with tf.control_dependencies(checks):
        return tf.identity(captions)


# --------------------------------------------------------------------------------------
# Per-recipe adapters.
# --------------------------------------------------------------------------------------


@dataclasses.dataclass
class TFLitePart:
    """One TFLite model of an export (e.g. the generator, or the text encoder).

    Args:
        name: file stem, e.g. "generator".
        function: a `tf.function` with a fixed-batch input signature (named TensorSpecs) that
            returns a dict of outputs; it is also the Keras reference for accuracy checks.
        trackables: Keras models (or TF resources) the function uses.
        representative: callable(num, rng) -> list of input dicts (batch-sized numpy arrays)
            for int8 calibration; None if the part is never fully quantized.
        int8: what `--quantize=int8` means for this part: "full" (int8 weights and
            activations, calibrated) or "dynamic" (int8 weights only), with `int8_note` saying why.
        description: one line for model_info.json.
    """

    name: str
    function: object
    trackables: list
    representative: object = None
    int8: str = "full"
    int8_note: str = ""
    description: str = ""


class ExportAdapter:
    """How a recipe's restored run turns captions into images with TF ops, for export.

    A subclass per recipe, registered with `@register_adapter(recipe_name)`, provides the
    in-graph tokenization, the text encoding, the EMA generator call and the TFLite parts.
    `export_saved_model` builds every signature from these.

    Args:
        t2i: a `t2izoo.generate.Text2Image` (restored run: recipe, config, trainer, vocab).
        use_ema: export the EMA generator (False: the live one, for a checkpoint without EMA
            weights; see `ema_weights_restored`).
    """

    #: name -> tf.TensorSpec of the token inputs, batch dimension None.
    token_specs: dict = {}

    def __init__(self, t2i, use_ema: bool = True):
        self.t2i = t2i
        self.use_ema = use_ema
        self.config = t2i.config
        self.trainer = t2i.trainer
        self.z_dim = t2i.config.z_dim
        self.image_size = self.config.image_size

    def resources(self) -> list:
        """Models and lookup tables the signatures use (tracked by the ExportArchive)."""
        raise NotImplementedError

    def tokenize(self, captions) -> dict:
        """captions string [B] -> token inputs (as `token_specs`), stock TF ops only."""
        raise NotImplementedError

    def encode(self, tokens: dict) -> dict:
        """Token inputs -> the generator's text conditioning."""
        raise NotImplementedError

    def generate(self, conditioning: dict, noise):
        """Conditioning and noise [B, z_dim] -> images [B, S, S, 3] in [-1, 1] (EMA generator)."""
        raise NotImplementedError

    def python_tokens(self, captions) -> dict:
        """The token inputs computed in Python (numpy), to check `tokenize` against."""
        raise NotImplementedError

    def tflite_parts(self, batch_size: int = 1) -> list:
        """The `TFLitePart`s a phone needs to go from caption to image."""
        raise NotImplementedError

    def on_device_text(self) -> dict:
        """How a phone turns a caption into the first TFLite part's inputs (model_info.json)."""
        raise NotImplementedError

    def reference_images(self, captions, seeds) -> np.ndarray:
        """uint8 images from the Keras run itself (as `Text2Image` computes them), with the
        export's per-row noise and generator (EMA or live), for checking exports against."""
        captions = self.t2i.check_captions(captions)
        conditioning = self.t2i.recipe.conditioning(self.trainer, captions)
        noise = seeded_noise(np.asarray(seeds, np.int32), self.z_dim)
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
            f"@t2izoo.export.saved_model.register_adapter({t2i.recipe.name!r}) (known: {sorted(_ADAPTERS)})")
    return cls(t2i, use_ema=use_ema)


def _training_captions(config, num: int, rng) -> list:
    from t2izoo.trainers import run_loop

    captions = [c for caps in run_loop.load_dataset(config, "train").captions for c in caps]
    return [captions[i] for i in rng.choice(len(captions), size=min(num, len(captions)), replace=False)]


@register_adapter("gan_int_cls")
class GanIntClsAdapter(ExportAdapter):
    """GAN-INT-CLS: captions -> char codes -> frozen char-CNN-RNN embedding -> EMA DCGAN generator."""

    def __init__(self, t2i, use_ema: bool = True):
        import tensorflow as tf

        from t2izoo.data import text as text_lib

        super().__init__(t2i, use_ema)
        self.char_length = text_lib.CHAR_LENGTH
        self.token_specs = {"chars": tf.TensorSpec([None, self.char_length], tf.int32, name="chars")}
        self.text_encoder = self.trainer.text_encoder
        self.embedding_dim = self.text_encoder.embedding_dim
        example = (tf.zeros((1, self.z_dim)), tf.zeros((1, self.embedding_dim)))
        self.generator = self.trainer.sync_ema_generator(example) if use_ema else self.trainer.generator

    def resources(self):
        return [self.text_encoder, self.generator]

    def tokenize(self, captions):
        return {"chars": tf_encode_chars(captions, self.char_length)}

    def encode(self, tokens):
        return {"embedding": self.text_encoder(tokens["chars"], training=False)}

    def generate(self, conditioning, noise):
        return self.generator((noise, conditioning["embedding"]), training=False)

    def python_tokens(self, captions):
        from t2izoo.data import text as text_lib

        return {"chars": np.stack([text_lib.encode_chars(c, self.char_length) for c in captions]).astype(np.int32)}

    def training_embeddings(self, num: int, rng) -> np.ndarray:
        """Single-caption embeddings of training captions: the run's cache, else the encoder."""
        path = os.path.join(self.t2i.context["model_dir"], "caption_embeddings_train.npy")
        if os.path.exists(path):
            cached = np.load(path, mmap_mode="r").reshape(-1, self.embedding_dim)
            rows = np.flatnonzero(np.any(cached != 0, axis=1))  # zero rows pad images with fewer captions
            if len(rows):
                return np.asarray(cached[rng.choice(rows, size=num, replace=len(rows) < num)], np.float32)
        from t2izoo.recipes import char_cnn_rnn

        captions = _training_captions(self.config, num, rng)
        vectors = char_cnn_rnn.encode_captions(self.text_encoder, captions)
        return vectors[rng.choice(len(vectors), size=num, replace=len(vectors) < num)].astype(np.float32)

    def tflite_parts(self, batch_size=1):
        import tensorflow as tf

        generator, encoder = self.generator, self.text_encoder

        @tf.function(input_signature=[
            tf.TensorSpec([batch_size, self.embedding_dim], tf.float32, name="embedding"),
            tf.TensorSpec([batch_size, self.z_dim], tf.float32, name="noise")])
        def generate(embedding, noise):
            return {"image": generator((noise, embedding), training=False)}

        @tf.function(input_signature=[tf.TensorSpec([batch_size, self.char_length], tf.int32, name="chars")])
        def encode(chars):
            return {"embedding": encoder(chars, training=False)}

        def generator_data(num, rng):
            embeddings = self.training_embeddings(num * batch_size, rng)
            noise = rng.standard_normal((num * batch_size, self.z_dim)).astype(np.float32)
            return [{"embedding": embeddings[i * batch_size:(i + 1) * batch_size],
                     "noise": noise[i * batch_size:(i + 1) * batch_size]} for i in range(num)]

        return [
            TFLitePart("text_encoder", encode, [encoder], None, int8="dynamic",
                       int8_note="the char-CNN-RNN's GRU is a WHILE loop, which full-integer calibration "
                                 "does not handle; weights are int8, activations float",
                       description="char codes int32 [B, 201] -> sentence embedding float32 [B, D]"),
            TFLitePart("generator", generate, [generator], generator_data,
                       description="sentence embedding [B, D] + noise [B, z_dim] (standard normal) -> "
                                   "image float32 [B, S, S, 3] in [-1, 1]"),
        ]

    def on_device_text(self):
        from t2izoo.data import text as text_lib

        table = char_code_table()
        return {
            "kind": "chars",
            "steps": ["lower-case the caption (Unicode lower-casing, as Python's str.lower)",
                      f"take its first {self.char_length} characters (code points)",
                      "map each to its code with `char_codes` (any character not listed is 0)",
                      f"pad with 0 to {self.char_length}: int32 [1, {self.char_length}] -> text_encoder"],
            "char_length": self.char_length,
            "char_codes": {chr(c): int(table[c]) for c in range(128) if table[c] and chr(c) == chr(c).lower()},
            "alphabet": text_lib.ALPHABET,
        }


# --------------------------------------------------------------------------------------
# Loading a run safely.
# --------------------------------------------------------------------------------------


def check_checkpoint(model_dir: str) -> str:
    """Returns the latest checkpoint prefix of `model_dir` after reading every tensor of it.

    Raises:
        CheckpointError: no such directory, no checkpoint, or files missing, truncated or
            corrupt (a copy or a save cut short).
    """
    import tensorflow as tf

    from t2izoo.trainers import run_loop

    if not os.path.isdir(model_dir):
        raise CheckpointError(f"model_dir {model_dir} does not exist")
    ckpt_dir = os.path.join(model_dir, run_loop.CHECKPOINT_SUBDIR)
    try:
        state = tf.train.get_checkpoint_state(ckpt_dir)
    except (tf.errors.OpError, ValueError) as err:  # an unparsable state file
        raise CheckpointError(f"{ckpt_dir}/checkpoint is unreadable: {str(err).strip().splitlines()[0]}") from None
    if state is None or not state.model_checkpoint_path:
        raise CheckpointError(
            f"{model_dir} has no checkpoint in {run_loop.CHECKPOINT_SUBDIR}/ (no 'checkpoint' state file "
            f"naming a saved step): train first, or wait for the first save")
    latest = state.model_checkpoint_path  # already joined to ckpt_dir when stored relative
    if not os.path.exists(latest + ".index"):
        raise CheckpointError(f"checkpoint {latest} is half-written: {os.path.basename(latest)}.index is missing")
    try:
        reader = tf.train.load_checkpoint(latest)
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)
    except (tf.errors.OpError, ValueError, IndexError, RuntimeError, OSError) as err:
        # A truncated data file gives DataLossError, OutOfRangeError or IndexError ("Read less
        # bytes than requested") depending on where the cut falls.
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"checkpoint {latest} is incomplete or corrupt: {first}") from None
    return latest


def ema_weights_restored(trainer, checkpoint_prefix: str) -> bool:
    """Whether the trainer's EMA weights hold values stored in the checkpoint.

    `restore_for_inference` restores with `expect_partial()`, so EMA variables that the
    checkpoint does not hold keep the copy of the freshly initialised generator they were
    built with. A restored variable equals some stored tensor exactly; a random one does not.
    Returns True when the trainer keeps no EMA (nothing to restore).
    """
    import tensorflow as tf

    ema = list(getattr(trainer, "ema_weights", None) or [])
    if getattr(trainer, "ema_decay", 0) <= 0 or not ema:
        return True
    reader = tf.train.load_checkpoint(checkpoint_prefix)
    by_shape: dict = {}
    for name, shape in reader.get_variable_to_shape_map().items():
        by_shape.setdefault(tuple(shape), []).append(name)
    for variable in ema:
        value = np.asarray(variable.numpy() if hasattr(variable, "numpy") else variable)
        if not any(np.array_equal(reader.get_tensor(n), value) for n in by_shape.get(value.shape, [])):
            return False
    return True


def load_run(model_dir: str):
    """(Text2Image, ExportAdapter) for a trained run, after checking its checkpoint."""
    from t2izoo.generate import Text2Image, recipe_for

    recipe_for(model_dir)  # a clear error for a directory that is not a generator run
    latest = check_checkpoint(model_dir)
    t2i = Text2Image.load(model_dir)
    use_ema = ema_weights_restored(t2i.trainer, latest)
    if not use_ema:
        warnings.warn(f"{latest} holds no EMA generator weights (the restored EMA copy would be the untrained "
                      f"initialisation); exporting the live generator instead", stacklevel=2)
    return t2i, adapter_for(t2i, use_ema=use_ema)


def default_model_name(t2i) -> str:
    return f"{t2i.config.dataset}_{t2i.recipe.name}"


def check_model_name(name: str) -> str:
    if not isinstance(name, str) or not _MODEL_NAME_RE.match(name):
        raise ConfigError(
            f"model name {name!r} is not usable by TF Serving: use letters, digits, '_', '.' or '-' "
            f"(e.g. shapes_gan_int_cls)")
    return name


def next_version(model_base: str) -> int:
    """One more than the highest numeric version folder under `model_base` (1 if none)."""
    if not os.path.isdir(model_base):
        return 1
    versions = [int(v) for v in os.listdir(model_base) if v.isdigit()]
    return max(versions, default=0) + 1


# --------------------------------------------------------------------------------------
# Export.
# --------------------------------------------------------------------------------------


def build_archive(adapter: ExportAdapter):
    """A `keras.export.ExportArchive` with the four signatures of the module docstring."""
    import keras
    import tensorflow as tf

    archive = keras.export.ExportArchive()
    for resource in adapter.resources():
        archive.track(resource)
    captions_spec = tf.TensorSpec([None], tf.string, name="captions")
    seed_spec = tf.TensorSpec([None], tf.int32, name="seed")
    token_names = list(adapter.token_specs)

    def images_from_tokens(tokens, seed):
        noise = seeded_noise(seed, adapter.z_dim)
        return {IMAGES_OUTPUT: to_uint8(adapter.generate(adapter.encode(tokens), noise))}

    def seeded(captions, seed):
        return images_from_tokens(adapter.tokenize(check_captions_in_graph(captions)), seed)

    def default(captions):
        return seeded(captions, tf.fill(tf.shape(captions), tf.constant(DEFAULT_SEED, tf.int32)))

    def from_tokens(*args):
        return images_from_tokens(dict(zip(token_names, args[:-1])), args[-1])

    def tokenize(captions):
        return adapter.tokenize(check_captions_in_graph(captions))

    archive.add_endpoint(SERVING_SIGNATURE, default, input_signature=[captions_spec])
    archive.add_endpoint(SEEDED_SIGNATURE, seeded, input_signature=[captions_spec, seed_spec])
    archive.add_endpoint(TOKENS_SIGNATURE, from_tokens,
                         input_signature=[adapter.token_specs[n] for n in token_names] + [seed_spec])
    archive.add_endpoint(TOKENIZE_SIGNATURE, tokenize, input_signature=[captions_spec])
    return archive


@dataclasses.dataclass
class SavedModelExport:
    """Where `export_saved_model` wrote: `path` is BASE/<model_name>/<version>."""

    path: str
    model_name: str
    version: int
    image_size: int
    generator: str  # "ema" or "live"
    seconds: float


def export_saved_model(model_dir: str, base: str, model_name: Optional[str] = None,
                       version: Optional[int] = None, loaded=None) -> SavedModelExport:
    """Exports a trained run as a SavedModel in TF Serving's layout.

    The version folder appears complete or not at all: the SavedModel is written to a
    hidden sibling folder (which TF Serving ignores: not a number) and renamed into place.

    Args:
        model_dir: run directory (config.json, vocab.json, checkpoints/).
        base: TF Serving base directory; the export goes to `base/<model_name>/<version>`.
        model_name: defaults to `<dataset>_<recipe>`.
        version: positive integer; defaults to one more than the highest present.
        loaded: an already loaded (Text2Image, ExportAdapter) pair to reuse.

    Raises:
        CheckpointError: missing or half-written checkpoint.
        ConfigError: not a generator run, bad model name or version, version already present.
    """
    start = time.time()
    t2i, adapter = loaded or load_run(model_dir)
    model_name = check_model_name(model_name or default_model_name(t2i))
    model_base = os.path.join(base, model_name)
    if version is None:
        version = next_version(model_base)
    if isinstance(version, bool) or not isinstance(version, (int, np.integer)) or version < 1:
        raise ConfigError(f"version must be a positive integer, got {version!r}")
    final = os.path.join(model_base, str(int(version)))
    if os.path.exists(final):
        raise ConfigError(f"{final} already exists; pass another --version (or remove it) to export again")
    os.makedirs(model_base, exist_ok=True)
    staging = os.path.join(model_base, f".partial-{int(version)}-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    generator = "ema" if adapter.use_ema else "live"
    try:
        build_archive(adapter).write_out(staging, verbose=False)
        write_export_info(staging, t2i, adapter, model_name, int(version))
        os.rename(staging, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return SavedModelExport(final, model_name, int(version), adapter.image_size, generator, time.time() - start)


EXPORT_INFO = os.path.join("assets.extra", "t2izoo_export.json")


def write_export_info(path: str, t2i, adapter: ExportAdapter, model_name: str, version: int):
    """Writes what the export holds to `<version>/assets.extra/t2izoo_export.json` (TF Serving
    ignores the files there)."""
    import json

    info = {
        "model_name": model_name, "version": version, "recipe": t2i.recipe.name, "dataset": t2i.config.dataset,
        "generator": "ema" if adapter.use_ema else "live", "image_size": adapter.image_size, "z_dim": adapter.z_dim,
        "signatures": {
            SERVING_SIGNATURE: f"captions string [B] -> images uint8 [B, S, S, 3], seed {DEFAULT_SEED} for every row",
            SEEDED_SIGNATURE: "captions string [B], seed int32 [B] -> images",
            TOKENS_SIGNATURE: f"{', '.join(adapter.token_specs)}, seed int32 [B] -> images",
            TOKENIZE_SIGNATURE: f"captions string [B] -> {', '.join(adapter.token_specs)}",
        },
        "noise": "row i: tf.random.stateless_normal([z_dim], seed=[seed_i, 0])",
        "exported": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    os.makedirs(os.path.join(path, "assets.extra"), exist_ok=True)
    with open(os.path.join(path, EXPORT_INFO), "w", encoding="utf-8") as f:
        json.dump(info, f, indent=2, ensure_ascii=False)
