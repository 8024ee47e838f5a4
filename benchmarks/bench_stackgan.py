"""Seconds per training step of the StackGAN `cub` presets at the papers' batch sizes, random data.

    python benchmarks/bench_stackgan.py                      # all three: Stage-I, Stage-II, StackGAN++
    python benchmarks/bench_stackgan.py --models=stackgan_v2 --steps=3

A step is one full `train_step` (D update(s), then G update, EMA) of the trainer the recipe
builds, traced once with `tf.function` (as Keras `fit` runs it) and timed over `--steps` steps
after `--warmup` untimed ones. Inputs are random 1024-d embeddings and random images, so the
figure measures the models and the update, not the data pipeline. Batch sizes: StackGAN 64
(stageI/II cfg/birds.yml), StackGAN++ 24 (birds_3stages.yml).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import types

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from t2izoo.models.stackgan.config import STACKGAN_PRESETS, STACKGAN_STAGE2_PRESETS  # noqa: E402
from t2izoo.models.stackgan.recipe import StackGanRecipe, stage1_generator  # noqa: E402
from t2izoo.models.stackgan_v2.config import STACKGAN_V2_PRESETS  # noqa: E402
from t2izoo.models.stackgan_v2.recipe import StackGanV2Recipe  # noqa: E402

EMBEDDING_DIM = {"shapes": 256}  # char-CNN-RNN output: 1024 for the paper presets
# Batches carry random embeddings: the trainers need no text encoder.
NO_TEXT_ENCODER = types.SimpleNamespace(encoder=None)


def _params(variables):
    return sum(int(np.prod(v.shape)) for v in variables)


def build(name, preset="cub"):
    if name == "stackgan_v2":
        config = STACKGAN_V2_PRESETS[preset]
        recipe, sizes = StackGanV2Recipe(), config.image_sizes
        context = {"conditioner": NO_TEXT_ENCODER, "steps_per_epoch": 1}
    else:
        config = (STACKGAN_PRESETS if name == "stackgan_stage1" else STACKGAN_STAGE2_PRESETS)[preset]
        recipe, sizes = StackGanRecipe(), config.image_sizes
        context = {"conditioner": NO_TEXT_ENCODER, "steps_per_epoch": 1}
        if config.stage == 2:
            g1 = stage1_generator(config)
            g1((tf.zeros((1, config.z_dim)), tf.zeros((1, EMBEDDING_DIM.get(preset, 1024))),
                tf.zeros((1, config.condition_dim))))
            g1.trainable = False
            context["stage1_generator"] = g1
    trainer = recipe.build_trainer(config, context)
    return config, trainer, sizes


def random_batch(rng, batch_size, sizes, dim):
    batch = {"index": np.arange(batch_size, dtype=np.int32),
             "embedding": rng.normal(size=(batch_size, dim)).astype("float32"),
             "wrong_embedding": rng.normal(size=(batch_size, dim)).astype("float32")}
    for s in sizes:
        batch[f"image_{s}"] = rng.uniform(-1, 1, (batch_size, s, s, 3)).astype("float32")
    return {k: tf.constant(v) for k, v in batch.items()}


def bench(name, steps, warmup, batch_size=None, jit_compile=True, preset="cub"):
    config, trainer, sizes = build(name, preset)
    batch_size = batch_size or config.batch_size
    batch = random_batch(np.random.default_rng(0), batch_size, sizes, EMBEDDING_DIM.get(preset, 1024))
    trainer.build_from_batch(batch)
    step = tf.function(trainer.train_step, jit_compile=jit_compile)
    t0 = time.perf_counter()
    for _ in range(warmup):
        float(step(batch)["g_loss"])
    first = time.perf_counter() - t0
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        float(step(batch)["g_loss"])
        times.append(time.perf_counter() - t)
    g = _params(trainer.generator.trainable_variables)
    d = _params(trainer.discriminator.trainable_variables)
    return {"model": name, "batch": batch_size, "sizes": sizes, "s_per_step": float(np.median(times)),
            "min": min(times), "max": max(times), "warmup_s": first, "g_params": g, "d_params": d}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="stackgan_stage1,stackgan_stage2,stackgan_v2")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--batch_size", type=int, default=0, help="0: the paper's batch size")
    parser.add_argument("--preset", default="cub", choices=("cub", "flowers", "coco", "shapes"))
    parser.add_argument("--jit_compile", type=int, default=1, choices=(0, 1),
                        help="XLA-compile the step, as the recipes do (0: the plain graph)")
    args = parser.parse_args()
    gpus = tf.config.list_physical_devices("GPU")
    device = ", ".join(tf.config.experimental.get_device_details(g).get("device_name", "GPU") for g in gpus) \
        if gpus else f"CPU ({os.cpu_count()} cores visible, {platform.processor() or platform.machine()})"
    print(f"device: {device}; TensorFlow {tf.__version__}; median of {args.steps} steps after {args.warmup} warm-up; "
          f"preset {args.preset}; {'XLA' if args.jit_compile else 'no XLA'}")
    print(f"{'model':<17}{'batch':>6}  {'scales':<15}{'s/step':>9}{'min':>9}{'max':>9}{'img/s':>8}"
          f"{'G params':>12}{'D params':>12}{'trace+warmup s':>16}")
    for name in args.models.split(","):
        r = bench(name.strip(), args.steps, args.warmup, args.batch_size or None, bool(args.jit_compile), args.preset)
        print(f"{r['model']:<17}{r['batch']:>6}  {'/'.join(map(str, r['sizes'])):<15}{r['s_per_step']:>9.3f}"
              f"{r['min']:>9.3f}{r['max']:>9.3f}{r['batch'] / r['s_per_step']:>8.1f}{r['g_params']:>12,}"
              f"{r['d_params']:>12,}{r['warmup_s']:>16.1f}", flush=True)


if __name__ == "__main__":
    main()
