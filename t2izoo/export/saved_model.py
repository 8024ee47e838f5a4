"""SavedModel export for TF Serving: captions in, uint8 images out, from a trained run's EMA generator.

    python -m t2izoo.export --model_dir=runs/gan_int_cls_shapes --format=saved_model --out=/tmp/export

works for every generator recipe (GAN-INT-CLS, StackGAN Stage-I and Stage-II runs, StackGAN++,
AttnGAN) and writes `BASE/<model_name>/<version>/` (TF Serving's layout; `<model_name>`
defaults to `<dataset>_<recipe>`, e.g. `shapes_gan_int_cls`, and `<version>` to one more than
the highest present) with these signatures:

| signature              | inputs                                        | outputs                      |
|------------------------|-----------------------------------------------|------------------------------|
| `serving_default`      | `captions` string [B]                         | `images` uint8 [B, H, W, 3]  |
| `generate_seeded`      | `captions` string [B], `seed` int32 [B]       | `images` uint8 [B, H, W, 3]  |
| `generate_from_tokens` | the recipe's token inputs, `seed` int32 [B]   | `images`                     |
| `tokenize`             | `captions` string [B]                         | the token inputs             |

Token inputs: `chars` int32 [B, 201] (char-CNN-RNN recipes: GAN-INT-CLS, StackGAN, StackGAN++)
or `tokens` int32 [B, max_words] + `lengths` int32 [B] (AttnGAN: vocabulary word ids).
H = W is the final scale (Stage-II's for a Stage-II run, the largest branch of StackGAN++ and
AttnGAN).

Everything happens in the graph with ops that stock TF Serving has (no tensorflow-text):
tokenization, text encoder, EMA generator, and the conversion to uint8
(`round((x + 1) * 127.5)`, as `Text2Image` does). Row i's noise is
`tf.random.stateless_normal([noise_dim], seed=[seed_i, 0])` (noise_dim: z, plus the
conditioning-augmentation noise for StackGAN, StackGAN++ and AttnGAN; StackGAN's CA part is
`tf.random.stateless_truncated_normal(..., seed=[seed_i, 1])`, as its training draws it), so an image depends only
on its caption and seed, never on the other rows of the batch (TF Serving's batching merges
requests). `serving_default` uses seed 0 for every row: TF Serving requires every declared
input, so the seed lives in its own signature. Captions that hold no word or are not UTF-8 are
refused in the graph with INVALID_ARGUMENT, so a bare `tensorflow_model_server` gives a clear
error too.

Every family exports through one `ExportAdapter` (`t2izoo.export.adapters`): its conditioner's
in-graph tokenization and encoder, then its trainer's `generate`.
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
from t2izoo.export.adapters import ExportAdapter, seeded_noise
from t2izoo.utils.pixels import to_uint8

SERVING_SIGNATURE = "serving_default"
SEEDED_SIGNATURE = "generate_seeded"
TOKENS_SIGNATURE = "generate_from_tokens"
TOKENIZE_SIGNATURE = "tokenize"
DEFAULT_SEED = 0
IMAGES_OUTPUT = "images"
# TF Serving (and serving.server) refuse these in model names.
_MODEL_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


# --------------------------------------------------------------------------------------
# In-graph caption checks.
# --------------------------------------------------------------------------------------


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
# Loading a run safely.
# --------------------------------------------------------------------------------------


def check_checkpoint(model_dir: str) -> str:
    """Returns the latest checkpoint prefix of `model_dir` after reading every tensor of it.

    Raises:
        CheckpointError: no such directory, no checkpoint, or files missing, truncated or
            corrupt (a copy or a save cut short).
    """
    import tensorflow as tf

    from t2izoo.trainers.checkpointing import CHECKPOINT_SUBDIR, checkpoint_problem

    if not os.path.isdir(model_dir):
        raise CheckpointError(f"model_dir {model_dir} does not exist")
    ckpt_dir = os.path.join(model_dir, CHECKPOINT_SUBDIR)
    try:
        state = tf.train.get_checkpoint_state(ckpt_dir)
    except (tf.errors.OpError, ValueError) as err:  # an unparsable state file
        raise CheckpointError(f"{ckpt_dir}/checkpoint is unreadable: {str(err).strip().splitlines()[0]}") from None
    if state is None or not state.model_checkpoint_path:
        raise CheckpointError(
            f"{model_dir} has no checkpoint in {CHECKPOINT_SUBDIR}/ (no 'checkpoint' state file "
            f"naming a saved step): train first, or wait for the first save")
    latest = state.model_checkpoint_path  # already joined to ckpt_dir when stored relative
    problem = checkpoint_problem(latest)
    if problem:
        raise CheckpointError(f"checkpoint {latest} is {problem}")
    return latest


def ema_weights_restored(trainer, checkpoint_prefix: str) -> bool:
    """Whether the trainer's EMA weights hold values stored in the checkpoint.

    A guard, not a repair: the exporter samples with the EMA generator only when its variables
    hold values stored in the checkpoint. EMA variables that a restore did not fill (a
    checkpoint written without them, by another tool or an older trainer) would keep the copy
    of the freshly initialised generator they were built with. A restored variable equals some
    stored tensor exactly; a random one does not.
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
    return t2i, ExportAdapter(t2i, use_ema=use_ema)


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
        noise = seeded_noise(seed, adapter.noise_dim, adapter.truncated_noise_dim)
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
        "noise_dim": adapter.noise_dim,
        "signatures": {
            SERVING_SIGNATURE: f"captions string [B] -> images uint8 [B, S, S, 3], seed {DEFAULT_SEED} for every row",
            SEEDED_SIGNATURE: "captions string [B], seed int32 [B] -> images",
            TOKENS_SIGNATURE: f"{', '.join(adapter.token_specs)}, seed int32 [B] -> images",
            TOKENIZE_SIGNATURE: f"captions string [B] -> {', '.join(adapter.token_specs)}",
        },
        "noise": "row i: tf.random.stateless_normal([noise_dim], seed=[seed_i, 0])" if not adapter.truncated_noise_dim
                 else (f"row i: tf.random.stateless_normal([{adapter.noise_dim - adapter.truncated_noise_dim}], "
                       f"seed=[seed_i, 0]) then tf.random.stateless_truncated_normal([{adapter.truncated_noise_dim}], "
                       "seed=[seed_i, 1]) (the CA noise, truncated as in training)"),
        "truncated_noise_dim": adapter.truncated_noise_dim,
        "exported": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    os.makedirs(os.path.join(path, "assets.extra"), exist_ok=True)
    with open(os.path.join(path, EXPORT_INFO), "w", encoding="utf-8") as f:
        json.dump(info, f, indent=2, ensure_ascii=False)
