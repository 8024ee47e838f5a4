"""The shared run loop on tiny GAN-INT-CLS runs: files, exact resume, signals, bad input."""

import json
import os
import signal
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from t2izoo import configs as config_lib
from t2izoo import registry
from t2izoo.callbacks.training import NonFiniteGuard
from t2izoo.conditioning.char_cnn_rnn import pretrain as char_cnn_rnn
from t2izoo.data import text as text_lib
from t2izoo.data.datasets import load_dataset
from t2izoo.errors import CheckpointError, ConfigError, DataError, TrainingDiverged
from t2izoo.generate import Text2Image
from t2izoo.models.gan_int_cls import recipe as gan_int_cls
from t2izoo.testing import tiny
from t2izoo.trainers import run_loop


# The text encoders are the session's shared tiny runs (tests/conftest.py): read-only here.
@pytest.fixture(scope="module")
def encoder_dir(tiny_run):
    return tiny_run("char_cnn_rnn")


@pytest.fixture(scope="module")
def damsm_run(tiny_run):
    return tiny_run("damsm")


@pytest.fixture(scope="module")
def trained_run(encoder_dir, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("gan"))
    trainer = run_loop.train_config(tiny.tiny_config("gan_int_cls", encoder_dir), path, verbose=0)
    return path, trainer


def test_run_directory_contents(trained_run):
    path, trainer = trained_run
    stored = json.load(open(os.path.join(path, "config.json")))
    assert stored["class"] == "GanIntClsConfig" and stored["ngf"] == 4 and stored["max_steps"] == 4
    assert tf.train.latest_checkpoint(os.path.join(path, "checkpoints")).endswith("ckpt-4")
    assert os.path.exists(os.path.join(path, "vocab.json"))
    grids = sorted(os.listdir(os.path.join(path, "samples")))
    assert grids == ["latest.png", "step_0000002.png", "step_0000004.png"]
    assert os.listdir(os.path.join(path, "tensorboard"))
    assert int(trainer.d_optimizer.iterations) == 4 and int(trainer.g_optimizer.iterations) == 4


def test_resume_continues_exactly(encoder_dir, trained_run, tmp_path):
    reference_dir, reference = trained_run
    config = tiny.tiny_config("gan_int_cls", encoder_dir)
    run_loop.train_config(config_lib.apply_overrides(config, ["max_steps=2"]), str(tmp_path), verbose=0)
    resumed = run_loop.train_config(config, str(tmp_path), verbose=0)  # continues 2 -> 4
    for a, b in zip(reference.generator.weights + reference.discriminator.weights + reference.ema_weights,
                    resumed.generator.weights + resumed.discriminator.weights + resumed.ema_weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5)
    for a, b in zip(reference.g_optimizer.variables, resumed.g_optimizer.variables):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5)
    progress = [json.loads(line) for line in open(os.path.join(tmp_path, "progress.jsonl"))]
    assert [p["step"] for p in progress] == [2, 4]


def test_hard_negative_option_embeds_swapped_scenes_and_trains(encoder_dir, tmp_path):
    config = tiny.tiny_config("gan_int_cls", encoder_dir, max_steps=2, hard_negative_fraction=0.5,
                              wrong_pair="wrong_text")
    run_loop.train_config(config, str(tmp_path), verbose=0)
    hard = np.load(os.path.join(tmp_path, "hard_negative_embeddings_train.npy"))
    true = np.load(os.path.join(tmp_path, "caption_embeddings_train.npy"))
    assert hard.shape == (config.shapes_train, 4, true.shape[2]) and np.isfinite(hard).all()
    assert not np.allclose(hard[:, 0], true[:, :config.num_embeddings].mean(1))
    for bad, message in ((["hard_negative_fraction=1.5"], "in \\[0, 1\\]"),
                         (["dataset=cub", "hard_negative_fraction=0.5"], "shapes"),
                         (["d_text_conditioning=sum"], "concat, projection"),
                         (["hard_negative_kinds=color,texture"], "color_binding"),
                         (["hard_negative_kinds=shape,shape"], "distinct")):
        with pytest.raises(ConfigError, match=message):
            gan_int_cls.GanIntClsRecipe().pipeline_options(config_lib.apply_overrides(config, bad))


def test_sje_hard_negatives_feed_changed_scene_captions_and_train(tmp_path):
    config = tiny.tiny_config("char_cnn_rnn", max_steps=2, sje_hard_negatives="shape,color_binding")
    recipe = char_cnn_rnn.CharCnnRnnRecipe()
    train_set = load_dataset(config, "train")
    chars = recipe.hard_negative_chars(config, {}, train_set)
    assert chars.shape == (config.shapes_train, 2, char_cnn_rnn.HARD_CAPTIONS, text_lib.CHAR_LENGTH)
    true = {text_lib.encode_chars(c).tobytes() for c in train_set.captions[0]}
    assert chars.dtype == np.uint8 and not true & {c.tobytes() for c in chars[0].reshape(-1, text_lib.CHAR_LENGTH)}
    trainer = run_loop.train_config(config, str(tmp_path), verbose=0)
    assert trainer.hard_negatives and float(trainer.hard_tracker.count) > 0  # batches carried hard_chars
    assert 0.0 <= float(trainer.hard_tracker.result()) <= 1.0
    for bad, message in ((["sje_hard_negatives=color,texture"], "color_binding"),
                         (["dataset=cub", "sje_hard_negatives=shape"], "shapes")):
        with pytest.raises(ConfigError, match=message):
            recipe.pipeline_options(config_lib.apply_overrides(config, bad))


def test_keep_every_minutes_keeps_checkpoints_beyond_the_last_three(encoder_dir, tmp_path):
    config = config_lib.apply_overrides(tiny.tiny_config("gan_int_cls", encoder_dir),
                                        ["max_steps=5", "checkpoint_every=1", "keep_every_minutes=1e-9"])
    run_loop.train_config(config, str(tmp_path), verbose=0)
    kept = sorted(f for f in os.listdir(os.path.join(tmp_path, "checkpoints")) if f.endswith(".index"))
    assert kept == [f"ckpt-{i}.index" for i in range(1, 6)]


class _SignalAt(keras.callbacks.Callback):
    def __init__(self, step, signum):
        super().__init__()
        self.step, self.signum = step, signum

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.d_optimizer.iterations) == self.step:
            os.kill(os.getpid(), self.signum)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_saves_a_checkpoint_and_the_run_resumes(encoder_dir, tmp_path, signum):
    config = tiny.tiny_config("gan_int_cls", encoder_dir, max_steps=6, checkpoint_every=0)
    trainer = run_loop.train_config(config, str(tmp_path), verbose=0, extra_callbacks=[_SignalAt(3, signum)])
    assert int(trainer.d_optimizer.iterations) == 3
    assert tf.train.latest_checkpoint(os.path.join(tmp_path, "checkpoints")).endswith("ckpt-3")
    saved_m = [np.asarray(v).copy() for v in trainer.d_optimizer.variables]
    resumed = run_loop.train_config(config_lib.apply_overrides(config, ["max_steps=3"]), str(tmp_path), verbose=0)
    for a, b in zip(saved_m, resumed.d_optimizer.variables):
        np.testing.assert_array_equal(a, np.asarray(b))  # nothing to do: restored state only
    finished = run_loop.train_config(config, str(tmp_path), verbose=0)
    assert int(finished.d_optimizer.iterations) == 6


def test_incompatible_run_directory_is_refused(encoder_dir, trained_run):
    path, _ = trained_run
    with pytest.raises(ConfigError, match="incompatible config.*ngf"):
        run_loop.train_config(tiny.tiny_config("gan_int_cls", encoder_dir, ngf=8), path, verbose=0)


def test_non_finite_loss_stops_the_run():
    guard = NonFiniteGuard(lambda: 17)
    guard.on_train_batch_end(0, {"d_loss": 0.3})
    with pytest.raises(TrainingDiverged, match="d_loss became nan at step 17"):
        guard.on_train_batch_end(0, {"d_loss": float("nan"), "g_loss": 1.0})


def test_overrides_are_type_checked():
    config = tiny.tiny_config("gan_int_cls", "x")
    assert config_lib.apply_overrides(config, ["ngf=8", "residual=false", "cls_weight=0.25"]).ngf == 8
    with pytest.raises(ConfigError, match="expected int"):
        config_lib.apply_overrides(config, ["ngf=wide"])
    with pytest.raises(ConfigError, match="unknown field"):
        config_lib.apply_overrides(config, ["gnf=8"])
    with pytest.raises(ConfigError, match="key=value"):
        config_lib.apply_overrides(config, ["ngf"])


def test_generate_is_deterministic_and_checks_captions(trained_run):
    path, _ = trained_run
    t2i = Text2Image.load(path)
    a = t2i(["a large red circle in the center"], num_per_caption=3, seed=5)
    b = t2i(["a large red circle in the center"], num_per_caption=3, seed=5)
    assert a.shape == (3, 16, 16, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a[0], a[1])  # different noise per image
    with pytest.raises(DataError, match="empty"):
        t2i(["   "])
    with pytest.warns(UserWarning, match="outside the vocabulary"):
        t2i(["zebra giraffe"])


def _run_cli(*args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.parametrize("args, message", [
    (["--dataset=imagenet"], "dataset"),
    (["--override", "ngf=wide"], "expected int"),
    (["--override", "gnf=8"], "unknown field"),
    (["--preset=huge"], "preset"),
    (["--override", "d_text_conditioning=sum"], "expected one of concat, projection"),
    (["--override", "hard_negative_fraction=1.5"], "in [0, 1]"),
])
def test_bad_flags_give_one_line_errors(args, message, tmp_path):
    model_dir = tmp_path / "run"
    result = _run_cli("t2izoo.recipes.gan_int_cls", f"--model_dir={model_dir}", *args)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and message in result.stderr
    # Nothing written: a corrected rerun in the same --model_dir is not refused as incompatible.
    assert not model_dir.exists() or not any(model_dir.iterdir())


def test_generate_cli_errors(tmp_path):
    result = _run_cli("t2izoo.generate", f"--model_dir={tmp_path}", "--caption=a red circle")
    assert result.returncode == 2 and "not a t2izoo run directory" in result.stderr
    assert "Traceback" not in result.stderr


def test_standardize_text_option_fixes_training_statistics_and_resumes_them(encoder_dir, tmp_path):
    config = tiny.tiny_config("gan_int_cls", encoder_dir, max_steps=2, standardize_text=True)
    trainer = run_loop.train_config(config, str(tmp_path), verbose=0)
    cached = np.load(os.path.join(tmp_path, "caption_embeddings_train.npy"))
    rows = cached.reshape(-1, cached.shape[-1])
    rows = rows[np.any(rows != 0, axis=1)]
    layer = trainer.generator.text_standardization
    np.testing.assert_allclose(layer.mean.numpy(), rows.mean(0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(layer.inverse_std.numpy(), 1.0 / (rows.std(0) + layer.epsilon), rtol=1e-4)
    # The EMA generator that samples and exports standardises with the same statistics.
    ema = trainer.sync_ema()
    np.testing.assert_array_equal(ema.text_standardization.mean.numpy(), layer.mean.numpy())
    # Inference restores them from the checkpoint alone (no training set at hand).
    restored = Text2Image.load(str(tmp_path)).trainer.generator.text_standardization
    np.testing.assert_array_equal(restored.inverse_std.numpy(), layer.inverse_std.numpy())


@pytest.mark.parametrize("name", [f.name for f in registry.families(generators_only=True,
                                                                    task=registry.TEXT_TO_IMAGE)])
def test_a_failed_start_writes_nothing(name, tmp_path, encoder_dir, damsm_run):
    """Missing text encoder or data: one clear error, and the run directory stays empty, so the
    corrected command is not refused as incompatible (every generator family)."""
    run = tmp_path / "run"
    encoder = damsm_run if registry.get(name).conditioner == "damsm" else encoder_dir
    config = tiny.tiny_config(name, str(tmp_path / "no_encoder"))
    with pytest.raises(CheckpointError, match="no pretrained"):
        run_loop.train_config(config, str(run))
    with pytest.raises(DataError, match="needs --data_dir"):
        run_loop.train_config(config_lib.apply_overrides(config, ["dataset=coco", f"text_encoder_dir={encoder}"]),
                              str(run))
    assert not run.exists() or not any(run.iterdir())


def _final_state(trainer) -> list:
    return [np.array(v) for v in trainer.generator.weights + trainer.discriminator.weights + trainer.ema_weights
            + list(trainer.g_optimizer.variables) + list(trainer.d_optimizer.variables)]


@pytest.fixture(scope="module")
def six_steps(encoder_dir, tmp_path_factory):
    """An uninterrupted 6-step run (checkpoints every 2 steps) to compare interrupted ones with."""
    config = tiny.tiny_config("gan_int_cls", encoder_dir, max_steps=6, checkpoint_every=2)
    return config, _final_state(run_loop.train_config(config, str(tmp_path_factory.mktemp("six")), verbose=0))


def test_a_damaged_newest_checkpoint_falls_back_to_the_previous_one(six_steps, tmp_path, capsys):
    config, want = six_steps
    run_loop.train_config(config_lib.apply_overrides(config, ["max_steps=4"]), str(tmp_path), verbose=0)
    data = tmp_path / "checkpoints" / "ckpt-4.data-00000-of-00001"
    data.write_bytes(b"")  # disk full while saving step 4
    capsys.readouterr()
    resumed = run_loop.train_config(config, str(tmp_path), verbose=0)
    warnings = [line for line in capsys.readouterr().out.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "ckpt-4 is incomplete or corrupt" in warnings[0]
    for a, b in zip(want, _final_state(resumed)):
        np.testing.assert_array_equal(a, b)  # steps 3-6 redone from step 2: the same run


def test_a_run_whose_every_checkpoint_is_unreadable_is_refused_and_left_alone(six_steps, tmp_path):
    config, _ = six_steps
    run_loop.train_config(config_lib.apply_overrides(config, ["max_steps=4"]), str(tmp_path), verbose=0)
    for data in (tmp_path / "checkpoints").glob("*.data-*"):
        data.write_bytes(data.read_bytes()[:10])
    before = {p.name: p.read_bytes() for p in (tmp_path / "checkpoints").iterdir()}
    with pytest.raises(CheckpointError, match="holds no readable checkpoint.*nothing was overwritten"):
        run_loop.train_config(config, str(tmp_path), verbose=0)
    assert {p.name: p.read_bytes() for p in (tmp_path / "checkpoints").iterdir()} == before


KILL_SCRIPT = """
import os, signal, sys
import keras
from t2izoo.testing import tiny
from t2izoo.trainers import run_loop

class Kill(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.d_optimizer.iterations) == int(sys.argv[3]):
            os.kill(os.getpid(), signal.SIGKILL)

config = tiny.tiny_config("gan_int_cls", sys.argv[1], max_steps=6, checkpoint_every=2)
run_loop.train_config(config, sys.argv[2], verbose=0, extra_callbacks=[Kill()])
"""


def test_sigkill_then_rerun_reaches_the_uninterrupted_weights(six_steps, encoder_dir, tmp_path):
    """kill -9 at step 5 (checkpoints every 2): the rerun resumes from step 4 and ends exactly
    where an uninterrupted run of the same seed ends (Keras `BackupAndRestore`'s promise)."""
    config, want = six_steps
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    killed = subprocess.run([sys.executable, "-c", KILL_SCRIPT, encoder_dir, str(tmp_path), "5"],
                            capture_output=True, text=True, env=env, timeout=600)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert tf.train.latest_checkpoint(str(tmp_path / "checkpoints")).endswith("ckpt-4")
    resumed = run_loop.train_config(config, str(tmp_path), verbose=0)
    assert int(resumed.d_optimizer.iterations) == 6
    for a, b in zip(want, _final_state(resumed)):
        np.testing.assert_array_equal(a, b)


class _PoisonAt(keras.callbacks.Callback):
    """Makes the generator's first kernel NaN after step `step`: the next step's losses diverge."""

    def __init__(self, step):
        super().__init__()
        self.step = step

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.d_optimizer.iterations) == self.step:
            kernel = self.model.generator.trainable_variables[0]
            kernel.assign(np.full(kernel.shape, np.nan, np.float32))


def test_a_diverged_run_stops_and_keeps_the_last_good_checkpoint(encoder_dir, tmp_path):
    config = tiny.tiny_config("gan_int_cls", encoder_dir, max_steps=8, checkpoint_every=2)
    with pytest.raises(TrainingDiverged, match="became nan at step 4"):
        run_loop.train_config(config, str(tmp_path), verbose=0, extra_callbacks=[_PoisonAt(3)])
    latest = tf.train.latest_checkpoint(str(tmp_path / "checkpoints"))
    assert latest.endswith("ckpt-2")  # step 4 was never saved
    reader = tf.train.load_checkpoint(latest)
    for name in reader.get_variable_to_shape_map():
        value = reader.get_tensor(name)
        if isinstance(value, np.ndarray) and value.dtype.kind == "f":
            assert np.isfinite(value).all(), name
