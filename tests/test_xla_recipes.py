"""Every recipe trains with its step XLA-compiled (`jit_compile`, on by default; the other tests'
tiny runs turn it off because compiling costs more than their few steps)."""

import json
import os

import pytest

from t2izoo.testing import tiny


def _train(kind, root, model_dir):
    from t2izoo.recipes import attngan, char_cnn_rnn, damsm, gan_int_cls, stackgan, stackgan_v2

    xla = dict(jit_compile=True, max_steps=2, checkpoint_every=0, sample_every=0)
    if kind == "char_cnn_rnn":
        return char_cnn_rnn.train(tiny.tiny_char_cnn_rnn(**xla), model_dir, verbose=0)
    if kind == "damsm":
        return damsm.train(tiny.tiny_damsm(**xla), model_dir)
    if kind == "attngan":
        return attngan.train(tiny.tiny_attngan(tiny.tiny_damsm_run(root), **xla), model_dir, auto_pretrain=False)
    encoder = tiny.tiny_char_cnn_rnn_run(root)
    if kind == "gan_int_cls":
        return gan_int_cls.train(tiny.tiny_gan_int_cls(encoder, **xla), model_dir, auto_pretrain=False, verbose=0)
    if kind == "stackgan":
        return stackgan.train(tiny.tiny_stackgan(encoder, **xla), model_dir, auto_pretrain=False)
    return stackgan_v2.train(tiny.tiny_stackgan_v2(encoder, **xla), model_dir, auto_pretrain=False)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return str(tmp_path_factory.mktemp("xla_runs"))


@pytest.mark.slow
# Stage-II is left out: the same trainer class as Stage-I (tests/models/test_stackgan.py covers it).
@pytest.mark.parametrize("kind", ["char_cnn_rnn", "damsm", "gan_int_cls", "stackgan", "stackgan_v2", "attngan"])
def test_recipe_trains_with_an_xla_step(kind, root):
    model_dir = os.path.join(root, f"{kind}_xla")
    trainer = _train(kind, root, model_dir)
    assert trainer.jit_compile is True
    with open(os.path.join(model_dir, "config.json")) as f:
        assert json.load(f)["jit_compile"] is True
    progress = [json.loads(line) for line in open(os.path.join(model_dir, "progress.jsonl"))]
    assert progress[-1]["step"] == 2
