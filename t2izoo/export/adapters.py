"""A restored run's caption -> image path with TF ops, for export: `ExportAdapter`.

One class serves every family: the text comes from the run's conditioner (`tf_tokens`,
`encode`, the on-device tokenization; t2izoo/conditioning/) and the images from the trainer's
`generate(conditioning, noise)` on the EMA generator, the same path sample grids,
`t2izoo.generate` and `t2izoo.evaluate` use. The SavedModel signatures
(`t2izoo.export.saved_model`) and the TFLite parts (`t2izoo.export.tflite`) are built from it.
A new family needs nothing here.

Noise is the trainer's whole noise vector, `noise_dim` wide: z for GAN-INT-CLS; for the
conditioning-augmentation models (StackGAN, StackGAN++, AttnGAN) z followed by the CA noise of
each CA layer (`ConditioningNoiseMixin.split_noise`), so an exported image depends only on its
caption and its noise (seed), never on its row in the batch.
"""

from __future__ import annotations

import dataclasses
import inspect

import numpy as np

from t2izoo.utils.pixels import to_uint8

NOISE_INPUT = "noise"
IMAGE_OUTPUT = "image"


# --------------------------------------------------------------------------------------
# Graph pieces shared by every recipe.
# --------------------------------------------------------------------------------------


def seeded_noise(seeds, width: int, truncated_width: int = 0):
    """Noise [B, width]: row i is `tf.random.stateless_normal([width - truncated_width],
    seed=[seeds[i], 0])`, followed, when `truncated_width` > 0 (StackGAN's CA noise), by
    `tf.random.stateless_truncated_normal([truncated_width], seed=[seeds[i], 1])`.

    Args:
        seeds: int32 [B].
        width: noise size (the adapter's `noise_dim`).
        truncated_width: trailing columns drawn truncated (the trainer's `truncated_noise_width()`).
    """
    import tensorflow as tf

    def row(s):
        z = tf.random.stateless_normal([width - truncated_width], tf.stack([s, 0]))
        if not truncated_width:
            return z
        return tf.concat([z, tf.random.stateless_truncated_normal([truncated_width], tf.stack([s, 1]))], axis=0)

    seeds = tf.convert_to_tensor(seeds, tf.int32)
    return tf.map_fn(row, seeds, fn_output_signature=tf.TensorSpec([width], tf.float32))


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
    from t2izoo.data.datasets import load_dataset

    captions = [c for caps in load_dataset(config, split).captions for c in caps]
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
# The adapter.
# --------------------------------------------------------------------------------------


class ExportAdapter:
    """A restored run's text pipeline (its conditioner) and generation path (its trainer), for export.

    Args:
        t2i: a `t2izoo.generate.Text2Image` (restored run: recipe, config, trainer, conditioner).
        use_ema: export the EMA generator (False: the live one, for a checkpoint without EMA
            weights; see `t2izoo.export.saved_model.ema_weights_restored`).
    """

    def __init__(self, t2i, use_ema: bool = True):
        self.t2i = t2i
        self.use_ema = use_ema
        self.config = t2i.config
        self.trainer = t2i.trainer
        self.conditioner = t2i.conditioner
        self.z_dim = self.config.z_dim
        self.noise_dim = self.trainer.noise_width()
        self.truncated_noise_dim = self.trainer.truncated_noise_width()
        self.image_size = max(self.config.image_sizes)
        #: name -> tf.TensorSpec of the token inputs, batch dimension None.
        self.token_specs = self.conditioner.token_specs()
        if use_ema:
            self.trainer.sync_ema()

    def generate(self, conditioning: dict, noise):
        """Conditioning and noise [B, noise_dim] -> images [B, S, S, 3] in [-1, 1] (the final scale)."""
        return self.trainer.generate(conditioning, noise, use_ema=self.use_ema)

    def resources(self) -> list:
        """Models and lookup tables the signatures use (tracked by the ExportArchive)."""
        return self.conditioner.resources() + self.trainer.generation_models(self.use_ema)

    def tokenize(self, captions) -> dict:
        """captions string [B] -> token inputs (as `token_specs`), stock TF ops only."""
        return self.conditioner.tf_tokens(captions)

    def encode(self, tokens: dict) -> dict:
        """Token inputs -> the generator's text conditioning."""
        return self.conditioner.encode(tokens)

    def python_tokens(self, captions) -> dict:
        """The token inputs computed in Python (numpy), to check `tokenize` against."""
        return self.conditioner.python_tokens(captions)

    def on_device_text(self) -> dict:
        """How a phone turns a caption into the first TFLite part's inputs (model_info.json)."""
        return self.conditioner.on_device_text()

    def generator_inputs(self, num: int, rng, split: str = "train", batch_size: int = 1) -> list:
        """`num` generator input dicts (conditioning of `split`'s captions + noise as `Text2Image` draws it)."""
        captions = sample_captions(self.config, split, num * batch_size, rng)
        arrays = dict(self.conditioner.conditioning_samples(captions))
        arrays[NOISE_INPUT] = self.trainer.sampling_noise(rng, num * batch_size)
        return _batches(arrays, num, batch_size)

    def tflite_parts(self, batch_size: int = 1) -> list:
        """The `TFLitePart`s a phone needs to go from caption to image: text encoder, generator."""
        import tensorflow as tf

        text = self.conditioner
        token_specs = [tf.TensorSpec([batch_size, *s.shape[1:]], s.dtype, name=s.name)
                       for s in self.token_specs.values()]
        token_names = [s.name for s in token_specs]
        condition_specs = text.conditioning_specs(batch_size)
        outputs = [s.name for s in condition_specs if s.name not in token_names]
        encode = named_function(token_names, lambda t: {k: v for k, v in text.encode(t).items() if k in outputs},
                                token_specs)
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
            TFLitePart("generator", generate, self.trainer.generation_models(self.use_ema), generator_data,
                       forward=lambda x: self.generate(x, x[NOISE_INPUT]),
                       batched_inputs=lambda num, rng: self.generator_inputs(1, rng, "train", batch_size=num)[0],
                       description=f"{conditioning} + noise float32 [{batch_size}, {self.noise_dim}] (standard "
                                   f"normal) -> image float32 [{batch_size}, {s}, {s}, 3] in [-1, 1]"),
        ]

    def reference_images(self, captions, seeds) -> np.ndarray:
        """uint8 images from the Keras run itself (as `Text2Image` computes them), with the
        export's per-row noise and generator (EMA or live), for checking exports against."""
        captions = self.t2i.check_captions(captions)
        noise = seeded_noise(np.asarray(seeds, np.int32), self.noise_dim, self.truncated_noise_dim)
        return to_uint8(np.asarray(self.generate(self.conditioner.conditioning(captions), noise)))
