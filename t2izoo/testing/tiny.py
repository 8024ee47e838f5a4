"""Tiny configs and tiny trained runs for fast end-to-end tests (16-32 px, 4-8 channels, 48 images).

Both come from the registry (`Family.tiny`, `Family.tiny_runs`): a family that registers them is
covered by the run-loop, evaluation and export tests without touching this file.

    config = tiny_config("gan_int_cls", encoder_dir=..., max_steps=2)   # any field can be changed
    model_dir = build_tiny_run("stackgan_v2", root)                     # trained (or reused) under root
    t2i = Text2Image.load(model_dir)

A run trains through the family's own recipe (a few steps; 10-30 s each on two cores), reusing
what is already trained under `root`: the pretraining run of its text encoder (one per encoder
kind, shared by every family that uses it) and the runs it names with "<run:NAME>".
"""

from __future__ import annotations

import contextlib
import dataclasses
import os

from t2izoo import registry

try:
    import fcntl
except ImportError:  # not POSIX: no other process shares a root there (no pytest-xdist workers)
    fcntl = None

# Data and logging every tiny config shares. No XLA: compiling a step costs more than the few
# steps a tiny run takes (tests/models/test_gan_int_cls.py checks the XLA step itself).
TINY_DATA = dict(shapes_train=48, shapes_test=20, batch_size=8, log_every=2, seed=0, jit_compile=False)
# The tiny runs' generators learn fast (the families' `tiny_runs` use a learning rate of 0.01),
# and the deeper ones (Stage-II, StackGAN++, AttnGAN) run 20 steps so that their batch-norm
# statistics settle: then images vary with the noise (at the presets' 2e-4, or after 4 steps,
# every pixel stays near grey and export checks are trivial).


def tiny_config(name: str, encoder_dir: str = "", **changes):
    """The `shapes` preset of family `name` with its tiny fields, `encoder_dir` as the path of its
    text encoder's pretraining run (for GAN families), and `changes`."""
    family = registry.get(name)
    base = dict(TINY_DATA, **family.tiny)
    if family.conditioner:
        base["text_encoder_dir"] = encoder_dir
    return dataclasses.replace(family.presets["shapes"], **{**base, **changes})


def tiny_runs() -> dict:
    """Tiny run name -> (family, field changes) for every registered family."""
    runs = {}
    for family in registry.families():
        for run, changes in (family.tiny_runs or {family.name: {}}).items():
            runs[run] = (family, changes)
    return runs


def generator_run_names(task: str = registry.TEXT_TO_IMAGE) -> list:
    """The tiny runs of the generator families of `task` (text-to-image: what the export tests
    cover; "manipulation": the manipulation families)."""
    return sorted(name for name, (family, _) in tiny_runs().items() if family.generator and family.task == task)


def resolved_changes(name: str, root) -> dict:
    """Tiny run `name`'s field changes with each "<run:NAME>" replaced by that run's model_dir
    (trained under `root` if needed)."""
    changes = tiny_runs()[name][1]
    return {k: build_tiny_run(v[len("<run:"):-1], root) if isinstance(v, str) and v.startswith("<run:") else v
            for k, v in changes.items()}


def _trained(model_dir: str) -> bool:
    return os.path.exists(os.path.join(model_dir, "checkpoints", "checkpoint"))


@contextlib.contextmanager
def _locked(path: str):
    """Holds an exclusive lock on file `path` (created if missing) across processes: the test
    session's pytest-xdist workers share one root, and one of them trains a run while the others
    that need it wait. Locks are taken in dependency order (a run, then the runs it names), so
    two builders never wait on each other."""
    with open(path, "a") as f:
        if fcntl is not None:
            fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(f, fcntl.LOCK_UN)


def build_tiny_run(name: str, root) -> str:
    """Trains (or reuses, if already trained under `root`) the tiny run called `name`; returns its
    model_dir (`root/name`). Safe to call from several processes sharing `root` at once: the run
    trains once, under a lock (`root/.name.lock`)."""
    from t2izoo.trainers import run_loop

    runs = tiny_runs()
    if name not in runs:
        raise KeyError(f"no tiny run {name!r}; registered: {sorted(runs)}")
    root = str(root)
    family = runs[name][0]
    model_dir = os.path.join(root, name)
    os.makedirs(root, exist_ok=True)
    # Checked under the lock: a run another process is training already has a checkpoint.
    with _locked(os.path.join(root, f".{name}.lock")):
        if _trained(model_dir):
            return model_dir
        changes = resolved_changes(name, root)
        encoder_dir = build_tiny_run(family.conditioner, root) if family.conditioner else ""
        config = tiny_config(family.name, encoder_dir, **changes)
        run_loop.train(family.make_recipe(), config, model_dir, verbose=0)
    return model_dir
