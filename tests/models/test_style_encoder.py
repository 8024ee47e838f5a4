"""Reed et al.'s style encoder: loss against Eq. 6, the network, the train step, manipulation, a
Mirrored step, and a tiny run end to end (ImageManipulator, bad inputs, evaluation)."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from t2izoo.errors import ConfigError, DataError
from t2izoo.losses.style import style_inversion_loss
from t2izoo.models.style_encoder.encoder import StyleEncoder
from t2izoo.models.style_encoder.trainer import StyleEncoderTrainer
from t2izoo.testing import gan_checks

S, Z, D, B = 16, 6, 5, 8


class FrozenToyGan:
    """The part of a GAN trainer the style encoder uses: a fixed generator of (noise, embedding)."""

    def __init__(self):
        self.generator = keras.Sequential([keras.layers.Dense(S * S * 3, activation="tanh"),
                                           keras.layers.Reshape((S, S, 3))])
        self.generator(np.zeros((1, Z + D), np.float32))
        self.trainable = True

    def noise_width(self):
        return Z

    def batch_conditioning(self, batch):
        return {"embedding": batch["embedding"]}

    def sync_ema(self):
        return self.generator

    def generate(self, conditioning, noise, use_ema=True):
        return self.generator(tf.concat([tf.convert_to_tensor(noise, tf.float32), conditioning["embedding"]], -1))


def make_trainer(gan=None, learning_rate=1e-3):
    trainer = StyleEncoderTrainer(StyleEncoder(S, Z, ndf=4), gan or FrozenToyGan(), image_size=S, seed=5)
    trainer.compile(keras.optimizers.Adam(learning_rate), jit_compile=False)
    return trainer


def batch(rng):
    return {"index": np.arange(B, dtype=np.int32), "embedding": rng.normal(size=(B, D)).astype("float32")}


def test_style_loss_is_eq_6(rng):
    z, s = rng.normal(size=(4, Z)), rng.normal(size=(4, Z))
    want = np.mean([np.sum((a - b) ** 2) for a, b in zip(z, s)])
    assert float(style_inversion_loss(z.astype("float32"), s.astype("float32"))) == pytest.approx(want, rel=1e-5)
    assert float(style_inversion_loss(z.astype("float32"), z.astype("float32"))) == 0.0


def test_encoder_shapes_and_config(rng):
    out = gan_checks.check_config_round_trip(StyleEncoder(32, 100, ndf=4), rng.uniform(-1, 1, (2, 32, 32, 3))
                                             .astype("float32"))
    assert out.shape == (2, 100)
    with pytest.raises(ValueError, match="power of two"):
        StyleEncoder(48, 100)


def test_train_step_moves_only_s_and_its_loss_is_the_formula(rng):
    trainer = make_trainer()
    data = {k: tf.constant(v) for k, v in batch(rng).items()}
    trainer.build_from_batch(data)
    g_before = gan_checks.weights_of(trainer.gan.generator.weights)
    s_before = gan_checks.weights_of(trainer.encoder.trainable_variables)
    logs = trainer.train_step(data)
    assert gan_checks.max_change(g_before, gan_checks.weights_of(trainer.gan.generator.weights)) == 0.0
    assert gan_checks.max_change(s_before, gan_checks.weights_of(trainer.encoder.trainable_variables)) > 1e-6
    assert np.isfinite(float(logs["style_loss"]))
    # The loss: ||z - S(G(z, phi(t)))||^2 with the z the generator was given.
    loss, z = trainer.style_loss(data, training=False)
    fake = trainer.gan.generate({"embedding": data["embedding"]}, z)
    predicted = trainer.encoder(fake, training=False).numpy()
    assert float(loss) == pytest.approx(np.mean(np.sum((z.numpy() - predicted) ** 2, -1)), rel=1e-5)
    assert trainer.weights and all("dense" not in v.path or "style_encoder" in v.path for v in trainer.weights)


def test_s_learns_to_invert_the_generator_and_manipulates_with_it(rng):
    trainer = make_trainer(learning_rate=3e-3)
    data = {k: tf.constant(v) for k, v in batch(rng).items()}
    trainer.build_from_batch(data)
    first = float(trainer.style_loss(data, training=False)[0])
    for _ in range(150):
        trainer.train_step(data)
    last = np.mean([float(trainer.style_loss(data, training=False)[0]) for _ in range(3)])
    assert last < 0.1 * first
    # x -> G(S(x), phi(t')): the style of x with the new text.
    x = trainer.gan.generate({"embedding": data["embedding"]}, rng.normal(size=(B, Z)).astype("float32"))
    new = {"embedding": tf.constant(rng.normal(size=(B, D)).astype("float32"))}
    want = trainer.gan.generate(new, trainer.encoder(x, training=False))
    np.testing.assert_allclose(trainer.manipulate(x, new).numpy(), want.numpy(), atol=1e-6)


def test_one_mirrored_step(rng):
    gan = FrozenToyGan()
    with gan_checks.mirrored_strategy().scope():
        trainer = make_trainer(gan)
        data = {k: tf.constant(v) for k, v in batch(rng).items()}
        trainer.build_from_batch(data)
    before = gan_checks.weights_of(trainer.encoder.trainable_variables)
    history = trainer.fit(tf.data.Dataset.from_tensors(data), epochs=1, verbose=0)
    assert np.isfinite(history.history["style_loss"][-1])
    assert gan_checks.max_change(before, gan_checks.weights_of(trainer.encoder.trainable_variables)) > 1e-6


# -- a tiny run end to end ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def run_dir(tiny_run):
    return tiny_run("style_encoder")  # the session's shared run (tests/conftest.py): read-only here


@pytest.fixture(scope="module")
def manipulator(run_dir):
    from t2izoo.manipulate import ImageManipulator

    return ImageManipulator.load(run_dir)


def test_manipulator_takes_uint8_images_and_checks_its_inputs(manipulator, capsys):
    from t2izoo.manipulate import fit_image

    size = manipulator.image_size
    images = np.random.default_rng(0).integers(0, 256, (3, size, size, 3)).astype(np.uint8)
    caption = "a large blue circle in the center"
    out = manipulator(images, [caption] * 3)
    assert out.shape == (3, size, size, 3) and out.dtype == np.uint8
    # The same as the trainer's manipulate on [-1, 1] floats with the conditioner's text.
    want = manipulator.trainer.manipulate(images / 127.5 - 1, manipulator.conditioner.conditioning([caption] * 3))
    np.testing.assert_array_equal(out, np.round((np.clip(want.numpy(), -1, 1) + 1) * 127.5).astype(np.uint8))
    big = np.repeat(np.repeat(images[:1], 3, 1), 3, 2)
    assert manipulator(big, [caption]).shape == (1, size, size, 3)
    assert "resized to" in capsys.readouterr().err
    assert fit_image(big[0], size).shape == (size, size, 3)
    with pytest.raises(DataError, match="pass --resize"):
        manipulator(big, [caption], resize=False)
    with pytest.raises(DataError, match="caption is empty"):
        manipulator(images[:1], ["  ,. "])
    with pytest.raises(DataError, match="outside the run's vocabulary"):
        manipulator(images[:1], ["zzyzx qwertyuiop"])
    with pytest.raises(DataError, match="RGB"):
        manipulator(images[:1, :, :, :1], [caption])


def test_text_to_image_runs_are_not_manipulators(tiny_run):
    from t2izoo.manipulate import ImageManipulator

    with pytest.raises(ConfigError, match="not a manipulation model"):
        ImageManipulator.load(tiny_run("gan_int_cls"))


def test_evaluation_of_a_manipulation_run(tiny_run_copy):
    from t2izoo import evaluate as ev
    from t2izoo.metrics import shapes_evaluator as se

    run_dir = tiny_run_copy("style_encoder")  # evaluation appends to its eval.jsonl
    evaluator = se.ShapesEvaluator(image_size=32, widths=(8, 8, 8), cell_dim=8)
    evaluator(np.zeros((1, 32, 32, 3), np.float32))
    result = ev.evaluate_run(run_dir, ["manip_shapes", "manip_recon"], 12, "novel", verbose=False,
                             shapes_evaluator=evaluator)
    assert result["task"] == "manipulation" and result["num_samples"] == 12
    for key in ("edit_acc", "preservation", "edit_acc_color", "edit_acc_shape", "edit_acc_size", "recon_l1"):
        assert 0.0 <= result[key] <= 1.0, key
    assert result["noop_share"] == 0.0 and result["recon_l2"] <= result["recon_l1"]
    with pytest.raises(ConfigError, match="unknown metrics"):
        ev.evaluate_run(run_dir, ["shapes_acc"], 12, "test", verbose=False)
    with pytest.raises(ConfigError, match="--damsm_dir"):
        ev.evaluate_run(run_dir, ["manip_mp"], 12, "test", verbose=False)


def test_command_line_single_image_folder_and_bad_inputs(run_dir, tmp_path):
    from PIL import Image

    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(2):
        Image.fromarray(np.full((20, 20, 3), 40 * i, np.uint8)).save(folder / f"img{i}.png")
    (tmp_path / "notes.png").write_text("not an image")
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    script = (
        "import sys\n"
        "from absl import flags\n"
        "import t2izoo.manipulate as m\n"
        "flags.DEFINE_string('model_dir', None, '')\nflags.DEFINE_string('image', None, '')\n"
        "flags.DEFINE_string('image_dir', None, '')\nflags.DEFINE_string('caption', None, '')\n"
        "flags.DEFINE_string('out', 'out.png', '')\nflags.DEFINE_bool('resize', True, '')\n"
        "for argv in [a.split('|') for a in sys.argv[1:]]:\n"
        "    flags.FLAGS.unparse_flags(); flags.FLAGS(['m'] + argv)\n"
        "    try:\n        m.main([])\n    except SystemExit as e:\n        print('exit', e.code)\n")
    cap = "--caption=a small red star at the top"
    runs = [f"--model_dir={run_dir}|--image={folder / 'img0.png'}|{cap}|--out={tmp_path / 'one.png'}",
            f"--model_dir={run_dir}|--image_dir={folder}|{cap}|--out={tmp_path / 'many'}",
            f"--model_dir={run_dir}|--image={tmp_path / 'notes.png'}|{cap}",
            f"--model_dir={run_dir}|--image={folder / 'img0.png'}|--caption= ",
            f"--model_dir={run_dir}|--image={folder / 'img0.png'}|{cap}|--noresize"]
    result = subprocess.run([sys.executable, "-c", script, *runs], capture_output=True, text=True, env=env,
                            timeout=300)
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 3, result.stderr[-2000:]
    assert "notes.png: not a readable image" in errors[0]
    assert "caption is empty" in errors[1]
    assert "pass --resize" in errors[2]
    assert Image.open(tmp_path / "one.png").size == (16, 16)
    assert sorted(os.listdir(tmp_path / "many")) == ["img0.png", "img1.png"]


def test_manipulative_precision_with_a_damsm_run(tiny_run, tiny_run_copy):
    from t2izoo import evaluate as ev

    run_dir = tiny_run_copy("style_encoder")  # evaluation appends to its eval.jsonl
    damsm_dir = tiny_run("damsm")
    result = ev.evaluate_run(run_dir, ["manip_mp"], 12, "test", verbose=False, damsm_dir=damsm_dir)
    assert 0.0 < result["mp_diff"] < 1.0 and -1.0 <= result["mp_sim"] <= 1.0
    assert result["mp"] == pytest.approx((1 - result["mp_diff"]) * result["mp_sim"], abs=2e-5)
    with pytest.raises(ConfigError, match="not a DAMSM"):
        ev.evaluate_run(run_dir, ["manip_mp"], 12, "test", verbose=False,
                        damsm_dir=tiny_run("char_cnn_rnn"))
