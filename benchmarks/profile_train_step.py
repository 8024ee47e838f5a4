"""Where a recipe's training step spends its time: TF profiler trace of a few steps, kernel time grouped
by the op's name scope (the Keras model or layer that made it).

    python benchmarks/profile_train_step.py --run=attngan:shapes                 # by model
    python benchmarks/profile_train_step.py --run=sdgan:shapes --depth=3 --top=40 # by layer
    python benchmarks/profile_train_step.py --run=attngan:shapes --precision=bfloat16 --by=type

The trainer, batch and step are `bench_train_step.py`'s (the recipe's trainer at the preset, one
random batch, `tf.function` with or without XLA); after `--warmup` steps, `--steps` steps are traced
with `tf.profiler.experimental` and the kernels' durations on the TensorFlow compute threads are
summed per step. Gradient ops are listed under `GRAD <scope>` (the backward pass of that scope).
Durations are the threads' wall-clock time inside each kernel: on a loaded machine a kernel that
loses its core is charged for the wait, so read the large groups, not the small ones. Without XLA
only: an XLA-compiled step is one cluster, not ops.
"""

from __future__ import annotations

import argparse
import collections
import glob
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SKIP = ("ExecutorState::Process", "ParallelFor")  # wrappers around the kernels, not kernels


def kernel_times(logdir, steps, depth, by):
    """{group: (ms per step, ops per step)} of the compute threads' kernels in the trace."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    with open(glob.glob(f"{logdir}/**/*.xplane.pb", recursive=True)[0], "rb") as f:
        space.ParseFromString(f.read())
    ms, count = collections.Counter(), collections.Counter()
    for plane in space.planes:
        names = {k: v.name for k, v in plane.event_metadata.items()}
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):
                continue
            for event in line.events:
                name = names[event.metadata_id]
                if name in SKIP:
                    continue
                if by == "type":
                    key = name.rsplit(":", 1)[-1]
                else:
                    scopes = [p for p in name.rsplit(":", 1)[0].split("/") if p not in ("gradients", "gradient_tape")]
                    key = ("GRAD " if "gradient" in name else "") + "/".join(scopes[:depth])
                ms[key] += event.duration_ps / 1e9 / steps
                count[key] += 1 / steps
    return {k: (v, count[k]) for k, v in ms.most_common()}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", default="attngan:shapes", help="family:preset")
    parser.add_argument("--precision", default="none")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--depth", type=int, default=1, help="name-scope levels to group by")
    parser.add_argument("--by", default="scope", choices=("scope", "type"))
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    import time

    import numpy as np
    import tensorflow as tf

    import bench_train_step as bench
    from t2izoo.trainers.precision import training_precision

    family, preset = args.run.split(":")
    build = bench._damsm_trainer if family in ("attngan", "sdgan") else bench._char_cnn_rnn_trainer
    with training_precision(args.precision):
        _, trainer, batch = build(family, preset)
        batch = {k: tf.convert_to_tensor(v) for k, v in batch.items()}
        trainer.build_from_batch(batch)
    step = tf.function(trainer.train_step)
    for _ in range(args.warmup):
        float(step(batch)["g_loss"])
    cpu = []
    for _ in range(args.steps):
        c = time.process_time()
        float(step(batch)["g_loss"])
        cpu.append(time.process_time() - c)
    logdir = tempfile.mkdtemp(prefix="profile-train-step-")
    tf.profiler.experimental.start(logdir)
    for _ in range(args.steps):
        float(step(batch)["g_loss"])
    tf.profiler.experimental.stop()
    times = kernel_times(logdir, args.steps, args.depth, args.by)
    total = sum(ms for ms, _ in times.values())
    print(f"{args.run} {args.precision}, no XLA: {np.median(cpu):.3f} CPU s/step untraced (load "
          f"{os.getloadavg()[0]:.1f}); kernels {total:.0f} ms/step over the compute threads; trace in {logdir}")
    for key, (ms, n) in list(times.items())[:args.top]:
        print(f"{ms:9.1f} ms {100 * ms / total:5.1f}% {n:6.0f} ops  {key}")


if __name__ == "__main__":
    main()
