"""Training-step speed and memory of the text-to-image GAN recipes, one table, one run.

    python benchmarks/bench_train_step.py                       # the shapes presets, every variant
    python benchmarks/bench_train_step.py --runs=attngan:cub,stackgan_v2:cub --xla=0 --precision=none,bfloat16
    python benchmarks/bench_train_step.py --passes=2,1          # before/after one generator pass per step

Each row is one configuration in a fresh process (so its peak RSS is its own): the trainer the
recipe builds at that preset (`build_trainer`, under `--override mixed_precision=...`'s policy),
one `train_step` traced with `tf.function` (XLA or not, as `jit_compile`), `--warmup` untimed
steps, then the median of `--steps` timed steps on one random batch (random images, text
embeddings or token ids of the preset's shapes, so the figure measures models and updates, not
the data pipeline). Columns: seconds per step, images per second, steps per minute (the quick
start's figure: `gan_int_cls:shapes`), CPU seconds per step (user + system time of the process:
on a loaded machine the wall-clock figures grow with the load, this one much less, so it is the
one to compare between rows measured at different loads), and the process's peak resident memory (ru_maxrss: models,
optimizer state, the traced/compiled step and its buffers; for AttnGAN/SD-GAN also the frozen
DAMSM encoders, Inception-v3 at the paper presets with random weights: the same computation).

`--passes=2` times the step as it was before one generator pass per step
(`t2izoo.testing.gan_checks.two_pass_step`: D's loss and G's loss each run the generator): the
same models and noise, for a before/after in one run.

Recipes: gan_int_cls, stackgan (Stage-I), stackgan_v2, attngan, sdgan, and the manipulation
recipes sisgan and tagan (random token ids; SISGAN's VSE untrained, frozen as in training);
presets: shapes and the paper presets (cub, flowers, coco). Timings are wall-clock on a shared machine: read the load
printed with each row.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import resource
import subprocess
import sys
import time
import types

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

DEFAULT_RUNS = "gan_int_cls:shapes,stackgan:shapes,stackgan_v2:shapes,attngan:shapes,sdgan:shapes"
EMBEDDING_DIM = {"shapes": 256}  # char-CNN-RNN output; 1024 at the paper presets


def _char_cnn_rnn_trainer(family, preset):
    """(config, trainer, batch) of a char-CNN-RNN family on random embeddings (no text encoder)."""
    import numpy as np

    from t2izoo import registry
    from t2izoo.testing import gan_checks

    config = registry.get(family).presets[preset]
    context = {"conditioner": types.SimpleNamespace(encoder=None), "steps_per_epoch": 1}
    trainer = registry.get(family).make_recipe().build_trainer(config, context)
    sizes = tuple(getattr(config, "image_sizes", None) or (config.image_size,))
    width = trainer.noise_width()
    batch = gan_checks.embedding_batch(np.random.default_rng(0), config.batch_size, sizes,
                                       EMBEDDING_DIM.get(preset, 1024), width)
    del batch["noise"]  # the trainer draws its own, as in training
    return config, trainer, batch


def _damsm_trainer(family, preset):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import bench_attngan
    import numpy as np

    config, trainer, vocab_size = bench_attngan.build(preset, None, family)
    batch = bench_attngan.random_batch(np.random.default_rng(0), config, config.batch_size, vocab_size,
                                       pairs=getattr(config, "siamese", False))
    return config, trainer, batch


def _manipulation_trainer(family, preset, vocab_size=48):
    """(config, trainer, batch) of a word-id-conditioned manipulation recipe (SISGAN, TAGAN): the
    recipe's own networks and text encoder (SISGAN's frozen VSE, untrained), random token ids."""
    import numpy as np

    from t2izoo import registry
    from t2izoo.data.text import Vocabulary
    from t2izoo.testing import gan_checks

    config = registry.get(family).presets[preset]
    recipe = registry.get(family).make_recipe()
    vocab = Vocabulary.build([" ".join(f"w{i}" for i in range(vocab_size))])
    context = {"vocab": vocab, "steps_per_epoch": 1}
    if family == "sisgan":
        context["conditioner"] = types.SimpleNamespace(encoder=recipe.text_encoder(config, vocab))
    trainer = recipe.build_trainer(config, context)
    batch = gan_checks.word_token_batch(np.random.default_rng(0), config.batch_size, config.image_size,
                                        config.max_words, len(vocab))
    return config, trainer, batch


def measure(family, preset, xla, precision, passes, steps, warmup) -> dict:
    """One configuration, in this process: the row's figures."""
    import numpy as np
    import tensorflow as tf

    from t2izoo.testing.gan_checks import two_pass_step
    from t2izoo.trainers.precision import training_precision

    build = (_damsm_trainer if family in ("attngan", "sdgan") else
             _manipulation_trainer if family in ("sisgan", "tagan") else _char_cnn_rnn_trainer)
    with training_precision(precision):
        config, trainer, batch = build(family, preset)
        batch = {k: tf.convert_to_tensor(v) for k, v in batch.items()}
        trainer.build_from_batch(batch)
    def before(b):  # the step before one generator pass per step
        two_pass_step(trainer, b)
        trainer.update_ema()
        return {"g_loss": tf.zeros(())}

    step = tf.function(trainer.train_step if passes == 1 else before, jit_compile=bool(xla))
    t0 = time.perf_counter()
    for _ in range(warmup):
        float(step(batch)["g_loss"])
    first = time.perf_counter() - t0
    times, cpu = [], []
    for _ in range(steps):
        t, c = time.perf_counter(), time.process_time()
        float(step(batch)["g_loss"])
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    median = float(np.median(times))
    return {"run": f"{family}:{preset}", "xla": int(xla), "precision": precision, "passes": passes,
            "batch": config.batch_size, "s_per_step": median, "min": min(times), "max": max(times),
            "cpu_s_per_step": float(np.median(cpu)), "images_per_s": config.batch_size / median, "steps_per_min": 60.0 / median, "warmup_s": first,
            "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20,
            "load": os.getloadavg()[0]}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", default=DEFAULT_RUNS, help="family:preset, comma separated")
    parser.add_argument("--xla", default="0,1", help="jit_compile values to time (comma list of 0/1)")
    parser.add_argument("--precision", default="none,bfloat16", help="mixed_precision values (none, bfloat16, float16)")
    parser.add_argument("--passes", default="1", help="generator passes per step: 1 (now), 2 (before)")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--one", help=argparse.SUPPRESS)  # a child: family:preset:xla:precision:passes
    args = parser.parse_args()
    if args.one:
        family, preset, xla, precision, passes = args.one.split(":")
        print(json.dumps(measure(family, preset, int(xla), precision, int(passes), args.steps, args.warmup)))
        return
    import tensorflow as tf

    print(f"CPU: {os.cpu_count()} cores visible, {platform.processor() or platform.machine()}; TensorFlow "
          f"{tf.__version__}; median of {args.steps} steps after {args.warmup} warm-up; one process per row")
    print(f"{'run':<20}{'XLA':>4}{'precision':>10}{'passes':>7}{'batch':>6}{'s/step':>9}{'img/s':>8}"
          f"{'steps/min':>10}{'CPU s/step':>11}{'peak RSS GB':>12}{'load':>6}", flush=True)
    combos = itertools.product(args.runs.split(","), args.xla.split(","), args.precision.split(","),
                               args.passes.split(","))
    for run, xla, precision, passes in combos:
        cmd = [sys.executable, os.path.abspath(__file__), f"--one={run.strip()}:{xla}:{precision}:{passes}",
               f"--steps={args.steps}", f"--warmup={args.warmup}"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        rows = [line for line in proc.stdout.splitlines() if line.startswith("{")]
        if proc.returncode or not rows:
            tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            print(f"{run:<20}{xla:>4}{precision:>10}{passes:>7}  failed: {tail}", flush=True)
            continue
        r = json.loads(rows[-1])
        print(f"{r['run']:<20}{r['xla']:>4}{r['precision']:>10}{r['passes']:>7}{r['batch']:>6}{r['s_per_step']:>9.3f}"
              f"{r['images_per_s']:>8.1f}{r['steps_per_min']:>10.1f}{r['cpu_s_per_step']:>11.3f}{r['peak_rss_gb']:>12.2f}"
              f"{r['load']:>6.1f}",
              flush=True)


if __name__ == "__main__":
    main()
