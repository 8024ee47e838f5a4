"""Multi-worker runs on loopback, for the tests and the benchmark (tests/distributed/).

    ports, holders = reserve_ports(2)
    procs = [start_worker(jobs_path, root, ports, i, log_path) for i in range(2)]

`python -m t2izoo.testing.multi_worker --jobs=JOBS.json --root=DIR [--strategy=...]` runs a list of
tiny training jobs in one process, one after the other (a process starts its collectives once, and
start-up costs tens of seconds), and after each writes the trainer's weights to
`DIR/weights/<job>.<task>.npz` with its final step in `<job>.<task>.steps.json`. With
`--strategy=multi_worker` it reads `TF_CONFIG` like any recipe.

For runs that can be compared with a one-process run on the same global batch, each step's noise
is a pure function of (step, example index) (`indexed_noise`), not of a replica's own stream.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time

import numpy as np

WEIGHTS = "weights"


def reserve_ports(n: int):
    """(ports, sockets): `n` free loopback ports, each kept bound by a socket the caller holds (and
    closes when the workers are done) so that no other process takes it meanwhile. The sockets set
    SO_REUSEADDR and never listen, so a worker's gRPC server (which sets it too) can bind and listen
    on the port while it is held: nothing is released and re-bound."""
    held = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", 0))
        held.append(s)
    return [s.getsockname()[1] for s in held], held


def tf_config(ports, index: int) -> str:
    return json.dumps({"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
                       "task": {"type": "worker", "index": index}})


def worker_env(ports, index: int, env=None) -> dict:
    """The environment of worker `index`: its TF_CONFIG, one CPU device, no proxies for loopback."""
    env = dict(os.environ if env is None else env)
    for key in ("http_proxy", "https_proxy", "grpc_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
        env.pop(key, None)
    env["no_proxy"] = env["NO_PROXY"] = "127.0.0.1,localhost"
    env["TF_CONFIG"] = tf_config(ports, index)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def start_worker(jobs_path: str, root: str, ports, index: int, log_path: str, strategy="multi_worker", env=None):
    """Starts one worker process of `jobs_path`; its stdout and stderr go to `log_path`."""
    cmd = [sys.executable, "-m", "t2izoo.testing.multi_worker", f"--jobs={jobs_path}", f"--root={root}",
           f"--strategy={strategy}"]
    log = open(log_path, "w")
    env = worker_env(ports, index, env) if strategy == "multi_worker" else dict(os.environ if env is None else env)
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)


def write_jobs(path: str, jobs: list) -> str:
    """`jobs`: [{"name", "family", "model_dir", "changes": {config field: value}}], `encoder_dir` among
    the changes for GAN families."""
    with open(path, "w") as f:
        json.dump(jobs, f, indent=1)
    return path


def load_weights(root: str, job: str, task) -> tuple:
    """(list of arrays, final step) that job `job` saved on task `task` (an int, or "single")."""
    with np.load(os.path.join(root, WEIGHTS, f"{job}.{task}.npz")) as z:
        arrays = [z[f"w{i}"] for i in range(len(z.files))]
    return arrays, load_summary(root, job, task)["step"]


def load_names(root: str, job: str, task) -> list:
    """The variable paths of `load_weights`' arrays, in order."""
    with open(os.path.join(root, WEIGHTS, f"{job}.{task}.names.json")) as f:
        return json.load(f)


def load_summary(root: str, job: str, task) -> dict:
    """{"step", "steps_per_s"} of job `job` on task `task`."""
    with open(os.path.join(root, WEIGHTS, f"{job}.{task}.steps.json")) as f:
        return json.load(f)


def indexed_noise(self, batch):
    """The noise of a step as a pure function of (generator step, example index), so that every
    replica layout draws the same numbers for the same example."""
    import tensorflow as tf

    step = tf.cast(self.checkpoint_optimizers()[-1].iterations, tf.int32)  # D's for GANs
    table = tf.random.stateless_normal((4096, self.noise_width()), seed=tf.stack([step, 7]))
    return tf.gather(table, tf.cast(batch["index"], tf.int32) % 4096)


def _use_indexed_noise(family):
    """Every trainer class that draws its own noise (`sample_noise`) draws `indexed_noise`."""
    from t2izoo.trainers.conditioning_noise import ConditioningNoiseMixin
    from t2izoo.trainers.prebuilt import PrebuiltTrainer

    family.make_recipe()  # imports the family's trainer
    classes, todo = [ConditioningNoiseMixin], [PrebuiltTrainer]
    while todo:
        cls = todo.pop()
        classes.append(cls)
        todo.extend(cls.__subclasses__())
    for cls in classes:
        if "sample_noise" in vars(cls):
            cls.sample_noise = indexed_noise


def _task(strategy) -> str:
    resolver = getattr(strategy, "cluster_resolver", None)
    return str(resolver.task_id) if resolver is not None and resolver.task_type else "single"


class _StepTimes:
    """Wall-clock time at the end of every step (a Keras callback, made lazily)."""

    def __new__(cls):
        import keras

        class StepTimes(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.times = []

            def on_train_batch_end(self, batch, logs=None):
                self.times.append(time.perf_counter())

        return StepTimes()


def run_job(job: dict, root: str, strategy_name: str):
    """Trains `job` (its family's tiny config, or `job["preset"]`, with `job["changes"]`) and saves
    the trainer's weights, final step and steps/s after the first two steps (which trace)."""
    import dataclasses

    from t2izoo import registry
    from t2izoo.testing.tiny import tiny_config
    from t2izoo.trainers import run_loop

    family = registry.get(job["family"])
    _use_indexed_noise(family)
    changes = dict(job.get("changes", {}))
    encoder_dir = changes.pop("encoder_dir", "")
    if job.get("preset"):
        if family.conditioner:
            changes["text_encoder_dir"] = encoder_dir
        config = dataclasses.replace(family.presets[job["preset"]], **changes)
    else:
        config = tiny_config(family.name, encoder_dir, **changes)
    timer = _StepTimes()
    trainer = run_loop.train(family.make_recipe(), config, job["model_dir"], strategy_name, verbose=0,
                             extra_callbacks=[timer])
    strategy = run_loop.make_strategy(strategy_name)
    base = os.path.join(root, WEIGHTS, f"{job['name']}.{_task(strategy)}")
    os.makedirs(os.path.dirname(base), exist_ok=True)
    np.savez(base + ".npz", **{f"w{i}": np.asarray(w) for i, w in enumerate(trainer.get_weights())})
    with open(base + ".names.json", "w") as f:
        json.dump([w.path for w in trainer.weights], f)
    t = timer.times
    rate = (len(t) - 2) / (t[-1] - t[1]) if len(t) > 2 else None
    with open(base + ".steps.json", "w") as f:
        json.dump({"step": int(family.make_recipe().step(trainer)), "steps_per_s": rate}, f)
    run_loop.any_worker(strategy, False)  # a barrier: no worker starts the next job's collectives early


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", required=True)
    parser.add_argument("--root", required=True)
    parser.add_argument("--strategy", default="multi_worker")
    args = parser.parse_args(argv)
    with open(args.jobs) as f:
        jobs = json.load(f)
    for job in jobs:
        run_job(job, args.root, args.strategy)
    print("all jobs done")


if __name__ == "__main__":
    main()
