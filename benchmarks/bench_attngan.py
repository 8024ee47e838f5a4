"""Seconds per AttnGAN (and SD-GAN) training step, `cub` preset (3 stages, 64/128/256 px, batch 20),
random data.

    python benchmarks/bench_attngan.py                        # cub: batch 20, 3 stages, 256 px
    python benchmarks/bench_attngan.py --family=attngan,sdgan # SD-GAN beside AttnGAN, same batch
    python benchmarks/bench_attngan.py --preset=shapes --steps=10
    python benchmarks/bench_attngan.py --inception_weights=/path/inception_v3.h5

A step is one full `train_step` of the trainer the recipe builds (D update of the three
per-scale discriminators, G update with the DAMSM loss through the frozen Inception-v3 image
encoder and bi-LSTM text encoder, EMA), traced once with `tf.function` (as Keras `fit` runs it)
and timed over `--steps` steps after `--warmup` untimed ones. Inputs are random token ids
(vocabulary of CUB's size, 5,450 words), random lengths and random images, so the figure
measures the models and the update, not the data pipeline. Without `--inception_weights` (or
$T2IZOO_INCEPTION_WEIGHTS) the Inception-v3 of the DAMSM image encoder gets random weights:
the same computation. Timings are wall-clock on a shared machine.

SD-GAN (`--family=sdgan`) runs at AttnGAN's batch (its preset's): every row has a Siamese pair
(random second caption, image and mismatched caption; half the pairs labelled same-image), so a
step runs both weight-sharing branches, the contrastive term and the SCBNs.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from t2izoo.conditioning.damsm import pretrain as damsm  # noqa: E402
from t2izoo.conditioning.damsm.conditioner import DamsmConditioner  # noqa: E402
from t2izoo.conditioning.damsm.config import DAMSM_PRESETS  # noqa: E402
from t2izoo import registry  # noqa: E402
from t2izoo.trainers.precision import training_precision  # noqa: E402

CUB_VOCAB = 5450


def _params(variables):
    return sum(int(np.prod(v.shape)) for v in variables)


def inception_weights(path):
    """The given weights file, or a randomly initialised Inception-v3 saved to a temporary file."""
    path = path or os.environ.get("T2IZOO_INCEPTION_WEIGHTS")
    if path:
        return path
    path = os.path.join(tempfile.mkdtemp(prefix="bench-attngan-"), "random_inception_v3.weights.h5")
    keras.applications.InceptionV3(weights=None, include_top=True, classifier_activation=None).save_weights(path)
    return path


def build(preset, weights, family="attngan"):
    config = registry.get(family).presets[preset]
    damsm_config = DAMSM_PRESETS.get(preset, DAMSM_PRESETS["cub"])
    if damsm_config.image_encoder == "inception":
        damsm_config = dataclasses.replace(damsm_config, inception_weights=inception_weights(weights))
    vocab_size = CUB_VOCAB if preset != "shapes" else 120
    # The frozen DAMSM encoders are float32 in every precision, as in a run (the run loop loads them
    # in `prepare`, outside `training_precision`): built here under an explicit float32 policy, so a
    # caller timing a mixed-precision step (bench_train_step.py) does not run them in 16 bits.
    with training_precision("none"):
        text = damsm.build_text_encoder(damsm_config, vocab_size)
        image = damsm.build_image_encoder(damsm_config)
    conditioner = DamsmConditioner(text, None, config.max_words, image, damsm_config)
    context = {"conditioner": conditioner, "steps_per_epoch": 1}
    return config, registry.get(family).make_recipe().build_trainer(config, context), vocab_size


def random_batch(rng, config, batch_size, vocab_size, pairs=False):
    t = config.max_words
    lengths = rng.integers(5, t + 1, batch_size).astype("int32")
    wrong_lengths = rng.integers(5, t + 1, batch_size).astype("int32")
    tokens = lambda n: (rng.integers(2, vocab_size, (batch_size, t)) * (np.arange(t) < n[:, None])).astype("int32")  # noqa: E731
    batch = {"index": np.arange(batch_size, dtype=np.int32), "tokens": tokens(lengths), "lengths": lengths,
             "wrong_tokens": tokens(wrong_lengths), "wrong_lengths": wrong_lengths,
             "class_ids": rng.integers(0, 200, batch_size).astype("int32")}
    for s in config.image_sizes:
        batch[f"image_{s}"] = rng.uniform(-1, 1, (batch_size, s, s, 3)).astype("float32")
    if pairs:  # SD-GAN's second branch: the same keys under pair_, and the same-image labels
        second = random_batch(rng, config, batch_size, vocab_size)
        batch.update({f"pair_{k}": v.numpy() for k, v in second.items() if k != "index"})
        batch["pair_same"] = (np.arange(batch_size) % 2).astype("float32")
    return {k: tf.constant(v) for k, v in batch.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="cub", choices=("cub", "coco", "shapes"))
    parser.add_argument("--family", default="attngan", help="attngan, sdgan or a comma list (same batch for all)")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--batch_size", type=int, default=0, help="0: the preset's (cub 20)")
    parser.add_argument("--inception_weights", default=None)
    parser.add_argument("--jit_compile", type=int, default=1, choices=(0, 1),
                        help="XLA-compile the step, as the recipe does (0: the plain graph)")
    args = parser.parse_args()
    batch_size = args.batch_size or registry.get("attngan").presets[args.preset].batch_size
    for family in [f.strip() for f in args.family.split(",") if f.strip()]:
        bench(family, args, batch_size)


def bench(family, args, batch_size):
    keras.backend.clear_session()
    config, trainer, vocab_size = build(args.preset, args.inception_weights, family)
    batch = random_batch(np.random.default_rng(0), config, batch_size, vocab_size, pairs=getattr(config, "siamese", False))
    trainer.build_from_batch(batch)
    step = tf.function(trainer.train_step, jit_compile=bool(args.jit_compile))
    t0 = time.perf_counter()
    for _ in range(args.warmup):
        float(step(batch)["g_loss"])
    warmup = time.perf_counter() - t0
    print(f"trace + {args.warmup} warm-up step(s): {warmup:.1f} s", flush=True)
    times = []
    for i in range(args.steps):
        t = time.perf_counter()
        float(step(batch)["g_loss"])
        times.append(time.perf_counter() - t)
        print(f"step {i + 1}: {times[-1]:.2f} s", flush=True)
    gpus = tf.config.list_physical_devices("GPU")
    device = ", ".join(tf.config.experimental.get_device_details(g).get("device_name", "GPU") for g in gpus) \
        if gpus else f"CPU ({os.cpu_count()} cores visible, {platform.processor() or platform.machine()})"
    print(f"device: {device}; TensorFlow {tf.__version__}; median of {args.steps} steps after {args.warmup} warm-up; "
          f"{'XLA' if args.jit_compile else 'no XLA'}")
    print(f"{family} {args.preset}: batch {batch_size}, scales {'/'.join(map(str, config.image_sizes))}, "
          f"{len(config.image_sizes)} stages: {np.median(times):.2f} s/step (min {min(times):.2f}, "
          f"max {max(times):.2f}; {batch_size / np.median(times):.2f} images/s); trace + warm-up {warmup:.1f} s")
    print(f"G params {_params(trainer.generator.trainable_variables):,}; "
          f"D params {_params(trainer.discriminator.trainable_variables):,} "
          f"({', '.join(f'{_params(d.trainable_variables):,}' for d in trainer.discriminator.discriminators)})")


if __name__ == "__main__":
    main()
