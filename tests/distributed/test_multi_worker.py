"""MultiWorkerMirroredStrategy on loopback: two worker processes against one process.

Every registered tiny run trains a few steps on two workers (one CPU replica each, global batch
8) and, separately, in one process on the same global batch with the same per-example noise
(`t2izoo.testing.multi_worker.indexed_noise`). Checked: both workers end with identical weights,
equal to the one-process run's within float tolerance; only the chief wrote the run directory;
nothing is left in the workers' private temporary directories. Then a worker is SIGKILLed
mid-run: the restarted job resumes from the chief's last checkpoint and ends equal to an
uninterrupted run.
"""

from __future__ import annotations

import os
import re
import signal
import time

import numpy as np
import pytest

from t2izoo.testing import multi_worker as mw
from t2izoo.testing import tiny

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

SHORT = 3  # steps per run: enough for a checkpoint (every 2), a resume point and Adam's state
# Small learning rates and no dropout keep 2-worker and 1-process runs within float round-off of
# each other (the reduction order differs); the tiny runs' 0.01 amplifies it step by step.
COMPARABLE = {"g_learning_rate": 2e-4, "d_learning_rate": 2e-4, "learning_rate": 2e-4}
TOLERANCE = 2e-4
# A bias added just before batch norm is cancelled by the mean subtraction: its exact gradient is
# zero, and what round-off leaves Adam scales to lr-sized steps, differently for each reduction
# order (2 workers vs 1 process: 7.8e-4 after 3 steps for the char-CNN-RNN's SmallImageEncoder).
# Such biases and the moving means that absorb them are not compared; every other weight is.
# The one-process run normalises with Keras `BatchNormalization`, the two workers with the
# synchronized `GlobalBatchNormalization`: the same maths in another float32 summation order. At
# some initial weights the gap this leaves (~1e-5 in a tiny generator's images) crosses ReLU kinks
# and flips the sign of small gradients, which Adam's first steps turn into lr-sized moves: SISGAN's
# tiny run, before its initial weights stopped depending on its text-encoder pretraining (#26),
# differed by 1.2e-3 after 3 steps, and by the same 1.2e-3 on ONE device with only its batch-norm
# layer swapped for `GlobalBatchNormalization` (which matched the two workers within 3e-6): the gap
# is batch-norm arithmetic, not distribution (SISGAN now: 5e-5). A run listed here is allowed to
# exceed the tolerance, with its reason; both workers must still agree bit for bit.
KNOWN_TO_DIFFER = {}
UNIDENTIFIABLE = re.compile(r"small_image_encoder[^/]*/(conv2d[^/]*/bias|global_batch_normalization[^/]*/moving_mean)$")


def _comparable_changes(family, changes):
    config = tiny.tiny_config(family.name, "x" if family.conditioner else "")
    fields = {k: v for k, v in COMPARABLE.items() if hasattr(config, k)}
    if hasattr(config, "dropout"):
        fields["dropout"] = 0.0
    return {**changes, **fields}


def _jobs(root, inputs, max_steps=SHORT):
    """One job per tiny run; read-only inputs (text encoders, StackGAN's Stage-I) come from `inputs`."""
    jobs = []
    for name, (family, changes) in sorted(tiny.tiny_runs().items()):
        changes = {k: inputs[v[len("<run:"):-1]] if isinstance(v, str) and v.startswith("<run:") else v
                   for k, v in changes.items()}
        changes = _comparable_changes(family, {**changes, "max_steps": max_steps, "checkpoint_every": 2,
                                               "sample_every": max_steps})
        if family.conditioner:
            changes["encoder_dir"] = inputs[family.conditioner]
        jobs.append({"name": name, "family": family.name, "model_dir": os.path.join(root, name), "changes": changes})
    return jobs


def _wait(procs, logs, timeout=1500):
    """Waits for every process; on a failure or timeout, kills the others and fails with the log."""
    deadline = time.time() + timeout
    try:
        for proc, log in zip(procs, logs):
            proc.wait(timeout=max(deadline - time.time(), 1))
            if proc.returncode:
                with open(log) as f:
                    pytest.fail(f"{log} exited with {proc.returncode}:\n" + "".join(f.readlines()[-30:]))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _files(model_dir):
    out = set()
    for top, _, names in os.walk(model_dir):
        for n in names:
            rel = os.path.relpath(os.path.join(top, n), model_dir)
            out.add("tensorboard/events" if rel.startswith("tensorboard" + os.sep) else rel)
    return out


def _input_runs():
    """The runs the jobs read (never write): each text encoder and every "<run:NAME>" a tiny run
    names (StackGAN's Stage-I, a manipulation model's GAN, ...)."""
    names = set()
    for family, changes in tiny.tiny_runs().values():
        if family.conditioner:
            names.add(family.conditioner)
        names.update(v[len("<run:"):-1] for v in changes.values() if isinstance(v, str) and v.startswith("<run:"))
    return sorted(names)


@pytest.fixture(scope="module")
def inputs(tiny_run):
    return {name: tiny_run(name) for name in _input_runs()}  # the session's shared runs (read-only)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, inputs):
    """Every job on two workers and in one process (three processes, started together)."""
    out = {}
    procs, logs, held = [], [], []
    for kind in ("multi", "single"):
        root = str(tmp_path_factory.mktemp(kind))
        jobs_path = mw.write_jobs(os.path.join(root, "jobs.json"), _jobs(root, inputs))
        env = dict(os.environ, TMPDIR=str(tmp_path_factory.mktemp(f"{kind}_tmp")))
        if kind == "multi":
            ports, sockets = mw.reserve_ports(2)
            held += sockets
            for i in range(2):
                logs.append(os.path.join(root, f"worker{i}.log"))
                procs.append(mw.start_worker(jobs_path, root, ports, i, logs[-1], env=env))
        else:
            logs.append(os.path.join(root, "single.log"))
            procs.append(mw.start_worker(jobs_path, root, None, 0, logs[-1], strategy="default", env=env))
        out[kind] = (root, env["TMPDIR"])
    try:
        _wait(procs, logs)
    finally:
        for s in held:
            s.close()
    return out


@pytest.mark.parametrize("name", sorted(tiny.tiny_runs()))
def test_two_workers_equal_one_process(runs, name):
    multi_root, multi_tmp = runs["multi"]
    single_root, _ = runs["single"]
    w0, step0 = mw.load_weights(multi_root, name, 0)
    w1, step1 = mw.load_weights(multi_root, name, 1)
    single, step = mw.load_weights(single_root, name, "single")
    assert step0 == step1 == step == SHORT
    for a, b in zip(w0, w1):
        np.testing.assert_array_equal(a, b)  # the workers hold one model
    # Only the chief wrote the run directory, the same files a one-process run writes.
    assert _files(os.path.join(multi_root, name)) == _files(os.path.join(single_root, name))
    assert os.listdir(multi_tmp) == []  # worker 1's private directory is gone
    names = mw.load_names(multi_root, name, 0)
    compared = [(a, b) for a, b, n in zip(w0, single, names) if a.size and not UNIDENTIFIABLE.search(n)]
    assert len(compared) >= len(names) // 2
    worst = max(float(np.max(np.abs(a - b))) for a, b in compared)
    if name in KNOWN_TO_DIFFER and worst > TOLERANCE:
        pytest.xfail(f"{name}: {KNOWN_TO_DIFFER[name]} (measured {worst:.2e})")
    assert worst <= TOLERANCE, f"{name}: two workers differ from one process by {worst:.2e}"


KILL_RUN = "gan_int_cls"
KILL_STEPS = 8


def test_sigkill_of_a_worker_then_restart_resumes_and_finishes(tmp_path, inputs):
    """Worker 1 is SIGKILLed after the chief's checkpoint at step 2 (or later); the whole job is
    restarted (what a cluster scheduler does) and ends at the same step with the weights of an
    uninterrupted two-worker run."""
    (job,) = [j for j in _jobs(str(tmp_path / "killed"), inputs, KILL_STEPS) if j["name"] == KILL_RUN]
    job["changes"].update(checkpoint_every=2, log_every=1)
    reference = dict(job, model_dir=str(tmp_path / "reference"))

    def launch(jobs, root, tag):
        os.makedirs(root, exist_ok=True)
        jobs_path = mw.write_jobs(os.path.join(root, f"jobs_{tag}.json"), jobs)
        ports, held = mw.reserve_ports(2)
        logs = [os.path.join(root, f"{tag}_worker{i}.log") for i in range(2)]
        return [mw.start_worker(jobs_path, root, ports, i, logs[i]) for i in range(2)], logs, held

    killed_root = str(tmp_path / "killed_out")
    procs, logs, held = launch([job], killed_root, "first")
    ckpt_dir = os.path.join(job["model_dir"], "checkpoints")
    try:
        deadline = time.time() + 900
        while not os.path.exists(os.path.join(ckpt_dir, "ckpt-2.index")):
            assert time.time() < deadline and procs[1].poll() is None, "no checkpoint at step 2"
            time.sleep(0.2)
        procs[1].send_signal(signal.SIGKILL)
        t_kill = time.time()
        procs[0].wait(timeout=600)  # the chief stops: its collectives fail without worker 1
        chief_stopped_after = time.time() - t_kill
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
        for s in held:
            s.close()
    assert procs[0].returncode != 0
    print(f"the chief stopped {chief_stopped_after:.0f} s after worker 1 was killed")
    import tensorflow as tf

    killed_at = int(tf.train.latest_checkpoint(ckpt_dir).rsplit("-", 1)[1])
    assert 2 <= killed_at < KILL_STEPS

    def run(jobs, root, tag):
        procs, logs, held = launch(jobs, root, tag)
        try:
            _wait(procs, logs)
        finally:
            for s in held:
                s.close()
        return logs

    logs = run([job], killed_root, "restart")
    with open(logs[0]) as f:
        assert f"steps {killed_at} -> {KILL_STEPS}" in f.read()
    ref_root = str(tmp_path / "reference_out")
    run([reference], ref_root, "reference")
    resumed, step = mw.load_weights(killed_root, KILL_RUN, 0)
    uninterrupted, ref_step = mw.load_weights(ref_root, KILL_RUN, 0)
    assert step == ref_step == KILL_STEPS
    worst = max(float(np.max(np.abs(a - b))) if a.size else 0.0 for a, b in zip(resumed, uninterrupted))
    assert worst <= TOLERANCE, f"resumed run differs from the uninterrupted one by {worst:.2e}"
