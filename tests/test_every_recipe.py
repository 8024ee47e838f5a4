"""Promises every registered recipe keeps, checked on its tiny config through the run loop.

* Exact resume: a run interrupted after its checkpoint at step 2 and resumed ends at step 4 with
  every saved tensor (weights, batch-norm statistics, EMA, optimizer slots, noise and Keras seed
  generator states) equal to an uninterrupted 4-step run's.

The interrupted run is the uninterrupted run's directory as it stood after step 2 (a copy whose
step-4 checkpoint is gone): a process killed between steps 2 and 4 leaves exactly that.
"""

import dataclasses
import shutil

import numpy as np
import pytest
import tensorflow as tf

from t2izoo.testing import tiny
from t2izoo.trainers import run_loop

# GAN-INT-CLS is covered by tests/test_run_loop.py (resume, SIGKILL, damaged checkpoints).
# Open (issue #26): a resumed SISGAN run diverges from the uninterrupted one from its first step
# (the discriminator's optimizer state first); the cause is not found yet.
NOT_YET_EXACT = {"sisgan": "SISGAN's resumed run is not yet exact (issue #26)"}
RUNS = [pytest.param(name, marks=pytest.mark.xfail(reason=NOT_YET_EXACT[name], strict=True))
        if name in NOT_YET_EXACT else name for name in sorted(tiny.tiny_runs()) if name != "gan_int_cls"]


def _config(name, root, **changes):
    family, run_changes = tiny.tiny_runs()[name]
    run_changes = {k: tiny.build_tiny_run(v[len("<run:"):-1], root) if isinstance(v, str) and v.startswith("<run:")
                   else v for k, v in run_changes.items()}
    encoder_dir = tiny.build_tiny_run(family.conditioner, root) if family.conditioner else ""
    fields = {f.name for f in dataclasses.fields(family.config_class)}
    changes = {k: v for k, v in {**run_changes, **changes}.items() if k in fields}
    return tiny.tiny_config(family.name, encoder_dir, **changes)


def _saved_tensors(model_dir) -> dict:
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(model_dir / "checkpoints")))
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
            if name != "_CHECKPOINTABLE_OBJECT_GRAPH"}


@pytest.mark.slow  # two tiny runs of every recipe
@pytest.mark.parametrize("name", RUNS)
def test_an_interrupted_run_resumes_exactly(name, tiny_root, tmp_path):
    config = _config(name, tiny_root, max_steps=4, checkpoint_every=2, sample_every=100, log_every=2,
                     eval_images=0, g_learning_rate=0.01, d_learning_rate=0.01)
    whole, interrupted = tmp_path / "whole", tmp_path / "interrupted"
    run_loop.train_config(config, str(whole), verbose=0)
    shutil.copytree(whole, interrupted)
    ckpt_dir = interrupted / "checkpoints"
    for f in ckpt_dir.glob("ckpt-4.*"):
        f.unlink()
    (ckpt_dir / "checkpoint").write_text('model_checkpoint_path: "ckpt-2"\nall_model_checkpoint_paths: "ckpt-2"\n')
    resumed = run_loop.train_config(config, str(interrupted), verbose=0)
    assert run_loop.registry.family_of_config(type(config).__name__).make_recipe().step(resumed) == 4
    want, got = _saved_tensors(whole), _saved_tensors(interrupted)
    assert sorted(want) == sorted(got)
    differing = [k for k in want if not np.array_equal(want[k], got[k])]
    assert not differing, f"{len(differing)} of {len(want)} saved tensors differ after resume: {differing[:5]}"
