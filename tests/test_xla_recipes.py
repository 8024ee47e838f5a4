"""Every recipe trains with its step XLA-compiled (`--override jit_compile=true`: off by default for
the GAN recipes, which run faster without it on CPUs, on for the text encoders' pretraining; the
other tests' tiny runs turn it off because compiling costs more than their few steps)."""

import json
import os

import pytest

from t2izoo import registry
from t2izoo.testing import tiny


def _train(kind, root, model_dir):
    from t2izoo.trainers import run_loop

    xla = dict(jit_compile=True, max_steps=2, checkpoint_every=0, sample_every=0)
    family = registry.get(kind)
    encoder_dir = tiny.build_tiny_run(family.conditioner, root) if family.conditioner else ""
    runs = family.tiny_runs or {kind: {}}
    earlier = tiny.resolved_changes(kind if kind in runs else next(iter(runs)), root)  # e.g. the GAN to invert
    earlier = {k: v for k, v in earlier.items() if k in ("gan_dir", "stage1_dir")}
    return run_loop.train_config(tiny.tiny_config(kind, encoder_dir, **earlier, **xla), model_dir, verbose=0)


@pytest.mark.slow
# Every registered family; StackGAN Stage-II is the same trainer class as Stage-I
# (tests/models/test_stackgan.py covers it).
@pytest.mark.parametrize("kind", [f.name for f in registry.families()])
def test_recipe_trains_with_an_xla_step(kind, tiny_root, tmp_path):
    model_dir = str(tmp_path / f"{kind}_xla")
    trainer = _train(kind, tiny_root, model_dir)  # text encoders and earlier runs: the shared tiny runs
    assert trainer.jit_compile is True
    with open(os.path.join(model_dir, "config.json")) as f:
        assert json.load(f)["jit_compile"] is True
    progress = [json.loads(line) for line in open(os.path.join(model_dir, "progress.jsonl"))]
    assert progress[-1]["step"] == 2
