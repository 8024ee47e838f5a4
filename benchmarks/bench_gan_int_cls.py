"""Prints GAN-INT-CLS training speed (s/step, images/s) on random data.

    python benchmarks/bench_gan_int_cls.py [--presets=shapes,cub] [--steps=10] [--jit_compile=0]

One step = the D update and the G update (with the GAN-INT half batch), as in training, compiled
with XLA as the recipe compiles it (`jit_compile`, default on); `--jit_compile=0` times the
plain graph for comparison.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from t2izoo.models.gan_int_cls.config import GAN_INT_CLS_PRESETS  # noqa: E402
from t2izoo.models.gan_int_cls.discriminator import MatchingAwareDiscriminator  # noqa: E402
from t2izoo.models.gan_int_cls.generator import DCGANGenerator  # noqa: E402
from t2izoo.models.gan_int_cls.trainer import GanIntClsTrainer  # noqa: E402

TEXT_DIM = {"shapes": 256, "cub": 1024, "flowers": 1024, "coco": 1024}


def bench(preset: str, steps: int, batch_size: int, jit_compile: bool = True):
    c = GAN_INT_CLS_PRESETS[preset]
    g = DCGANGenerator(c.image_size, c.z_dim, c.text_proj_dim, c.ngf, c.residual)
    d = MatchingAwareDiscriminator(c.image_size, c.text_proj_dim, c.ndf, c.residual)
    trainer = GanIntClsTrainer(g, d, image_size=c.image_size, z_dim=c.z_dim)
    trainer.compile(keras.optimizers.Adam(2e-4, beta_1=0.5), keras.optimizers.Adam(2e-4, beta_1=0.5),
                    jit_compile=False)
    rng = np.random.default_rng(0)
    batch = {"index": np.arange(batch_size, dtype=np.int32),
             f"image_{c.image_size}": rng.uniform(-1, 1, (batch_size, c.image_size, c.image_size, 3)).astype("float32"),
             "embedding": rng.normal(size=(batch_size, TEXT_DIM[preset])).astype("float32"),
             "wrong_embedding": rng.normal(size=(batch_size, TEXT_DIM[preset])).astype("float32")}
    batch = {k: tf.constant(v) for k, v in batch.items()}
    trainer.build_from_batch(batch)
    step = tf.function(trainer.train_step, jit_compile=jit_compile)
    step(batch)  # trace
    t = time.time()
    for _ in range(steps):
        logs = step(batch)
    float(logs["g_loss"])
    dt = (time.time() - t) / steps
    params = sum(int(np.prod(v.shape)) for v in g.trainable_variables + d.trainable_variables)
    print(f"{preset:8s} batch {batch_size:3d}  {c.image_size} px  ngf={c.ngf} ndf={c.ndf}  "
          f"{params / 1e6:.2f}M params  {dt:.3f} s/step  {batch_size / dt:.1f} images/s  "
          f"({'XLA' if jit_compile else 'no XLA'})")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--presets", default="shapes,cub")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--jit_compile", type=int, default=1, choices=(0, 1), help="XLA, as the recipe runs it")
    args = parser.parse_args()
    print(f"TensorFlow {tf.__version__}, devices: {[d.name for d in tf.config.list_logical_devices()]}, "
          f"{os.cpu_count()} CPUs")
    for preset in args.presets.split(","):
        bench(preset, args.steps, 64, bool(args.jit_compile))


if __name__ == "__main__":
    main()
