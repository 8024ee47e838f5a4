"""`python -m t2izoo.convert --from=attngan`: official .pth files (made here with torch.save from the
official reference arrays) -> a run directory that `Text2Image` loads and that reproduces the
official text encoder and generator outputs; bad inputs stop with one line and write nothing."""

import os
import pathlib
import pickle
import subprocess
import sys

import numpy as np
import pytest

from t2izoo.convert.__main__ import convert
from t2izoo.convert.state_dict import ConversionError

torch = pytest.importorskip("torch")  # the test extra installs it (t2izoo[convert])

# The arrays of ../shared/reference/official/ beside the repository ($T2IZOO_OFFICIAL_REFERENCE elsewhere).
REFERENCE = pathlib.Path(os.environ.get("T2IZOO_OFFICIAL_REFERENCE") or
                         pathlib.Path(__file__).resolve().parents[3] / "shared" / "reference" / "official")
pytestmark = pytest.mark.skipif(not REFERENCE.is_dir(), reason=f"no official reference arrays at {REFERENCE}")
SMALL = ["ngf=4", "ndf=4", "z_dim=12", "condition_dim=8", "num_residual=2", "max_words=8"]
TOLERANCE = 1e-4
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}


def save_pth(arrays: dict, prefix: str, path: pathlib.Path) -> str:
    torch.save({k[len(prefix):]: torch.from_numpy(np.array(v)) for k, v in arrays.items() if k.startswith(prefix)},
               path)
    return str(path)


def save_vocabulary(path: pathlib.Path, size: int) -> str:
    ixtoword = {0: "<end>", **{i: f"w{i}" for i in range(1, size)}}
    with open(path, "wb") as f:
        pickle.dump([[], [], ixtoword, {w: i for i, w in ixtoword.items()}], f)
    return str(path)


@pytest.fixture(scope="module")
def official(tmp_path_factory):
    root = tmp_path_factory.mktemp("official")
    arrays = dict(np.load(REFERENCE / "attngan_small.npz"))
    files = {"checkpoint": save_pth(arrays, "generator/", root / "netG.pth"),
             "text_encoder": save_pth(arrays, "text_encoder/", root / "text_encoder.pth"),
             "vocabulary": save_vocabulary(root / "captions.pickle", 30)}
    return arrays, files, root


@pytest.fixture(scope="module")
def converted(official, tmp_path_factory):
    _, files, _ = official
    out = tmp_path_factory.mktemp("runs") / "attngan_official"
    return convert("attngan", str(out), "cub", SMALL, **files)


def test_the_converted_run_reproduces_the_official_text_encoder_and_generator(official, converted):
    from t2izoo.generate import Text2Image

    arrays, _, _ = official
    t2i = Text2Image.load(converted)
    captions = [" ".join(f"w{i}" for i in row if i) for row in arrays["text_encoder_in/captions"]]
    text = t2i.conditioner.conditioning(captions)
    assert np.max(np.abs(np.asarray(text["words"]) - np.transpose(arrays["text_encoder_out/words_emb"],
                                                                  (0, 2, 1)))) <= TOLERANCE
    assert np.max(np.abs(np.asarray(text["sentence"]) - arrays["text_encoder_out/sent_emb"])) <= TOLERANCE
    lengths = (~arrays["generator_in/mask"].astype(bool)).sum(1).astype(np.int32)
    conditioning = {"words": np.transpose(arrays["generator_in/words_emb"], (0, 2, 1)),
                    "sentence": arrays["generator_in/sent_emb"], "lengths": lengths}
    noise = np.concatenate([arrays["generator_in/z"], arrays["generator_in/eps"]], axis=1)
    images = t2i.trainer.generate(conditioning, noise, all_scales=True)  # the EMA generator
    for image, size in zip(images, (64, 128, 256)):
        want = np.transpose(arrays[f"generator_out/image_{size}"], (0, 2, 3, 1))
        assert np.max(np.abs(np.asarray(image) - want)) <= TOLERANCE, size
    pixels = t2i(captions[:1], num_per_caption=2, seed=0)
    assert pixels.shape == (2, 256, 256, 3) and pixels.dtype == np.uint8 and pixels.std() > 1


def test_a_converted_run_refuses_to_train(converted):
    from t2izoo import configs as config_lib
    from t2izoo.errors import ConfigError
    from t2izoo.models.attngan.config import AttnGanConfig
    from t2izoo.trainers import run_loop

    config = config_lib.load_config(AttnGanConfig, converted)
    with pytest.raises(ConfigError, match="converted without the DAMSM image encoder"):
        run_loop.train_config(config, converted)


@pytest.mark.parametrize("case", ["vocabulary_size", "truncated", "other_model", "wrong_widths"])
def test_bad_input_is_refused_and_nothing_is_written(case, official, tmp_path):
    arrays, files, root = official
    files = dict(files)
    overrides, match = SMALL, ""
    if case == "vocabulary_size":
        files["vocabulary"] = save_vocabulary(tmp_path / "captions.pickle", 25)
        match = "has 25 words but .* embeds 30"
    elif case == "truncated":
        data = pathlib.Path(files["checkpoint"]).read_bytes()
        (tmp_path / "netG.pth").write_bytes(data[: len(data) // 2])
        files["checkpoint"], match = str(tmp_path / "netG.pth"), "is not a readable PyTorch checkpoint"
    elif case == "other_model":
        stackgan = dict(np.load(REFERENCE / "stackgan2_small.npz"))
        files["checkpoint"] = save_pth(stackgan, "generator/", tmp_path / "stackgan_netG.pth")
        match = "stackgan_netG.pth does not match AttnGAN's generator.*missing key"
    else:
        overrides, match = [o for o in SMALL if not o.startswith("ngf")], "netG.pth does not match .*shape"
    out = tmp_path / "run"
    with pytest.raises(ConversionError, match=match) as err:
        convert("attngan", str(out), "cub", overrides, **files)
    assert "\n" not in str(err.value)
    assert not out.exists() and not list(tmp_path.glob("run.partial-*"))


def test_the_command_line(official, tmp_path):
    _, files, _ = official
    base = [sys.executable, "-m", "t2izoo.convert", "--from=attngan", f"--checkpoint={files['checkpoint']}",
            f"--text_encoder={files['text_encoder']}", f"--vocabulary={files['vocabulary']}", "--preset=cub",
            *[f"--override={o}" for o in SMALL]]
    ok = subprocess.run(base + [f"--out={tmp_path / 'run'}"], capture_output=True, text=True, env=ENV, timeout=600)
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert f"wrote {tmp_path / 'run'}" in ok.stdout
    assert (tmp_path / "run" / "checkpoints" / "checkpoint").exists()
    bad = subprocess.run(base[:4] + [f"--checkpoint={files['vocabulary']}"] + base[5:] + [f"--out={tmp_path / 'bad'}"],
                         capture_output=True, text=True, env=ENV, timeout=600)
    lines = bad.stderr.strip().splitlines()
    assert bad.returncode == 2 and lines[-1].startswith("error: ") and "Traceback" not in bad.stderr
    assert not (tmp_path / "bad").exists()


@pytest.mark.slow  # SavedModel and TFLite conversion of a 256 px generator
def test_a_converted_run_exports(converted, tmp_path):
    import tensorflow as tf

    from t2izoo.export import saved_model as sm
    from t2izoo.export import tflite

    loaded = sm.load_run(converted)
    result = sm.export_saved_model(converted, str(tmp_path), "attngan_official", loaded=loaded)
    t2i, adapter = loaded
    captions = ["w21 w4 w13", "w8 w8 w9 w25"]
    served = tf.saved_model.load(result.path).signatures[sm.SEEDED_SIGNATURE](
        captions=tf.constant(captions), seed=tf.constant([3, 4]))["images"].numpy()
    want = adapter.reference_images(captions, [3, 4])
    assert served.shape == (2, 256, 256, 3)
    assert np.max(np.abs(served.astype(int) - want.astype(int))) <= 1
    files = tflite.export_tflite(converted, str(tmp_path), "none", "attngan_official", loaded=loaded)["files"]
    assert os.path.getsize(files["generator"]) > 0 and os.path.getsize(files["text_encoder"]) > 0


def official_image_encoder(dim: int) -> dict:
    """A CNN_ENCODER state dict (torchvision Inception-v3 keys + emb_features + emb_cnn_code) of
    D = `dim`, random weights, made with the inverse mapping."""
    from t2izoo.convert.inception import inception_state_dict
    from t2izoo.encoders.damsm_image import DamsmTorchvisionEncoder

    source = DamsmTorchvisionEncoder(dim)
    source(np.zeros((1, 64, 64, 3), np.float32))
    rng = np.random.default_rng(0)
    return {**inception_state_dict(source.backbone),
            "emb_features.weight": rng.normal(0, 0.1, (dim, 768, 1, 1)).astype(np.float32),
            "emb_cnn_code.weight": rng.normal(0, 0.1, (dim, 2048)).astype(np.float32),
            "emb_cnn_code.bias": rng.normal(0, 0.1, dim).astype(np.float32)}


@pytest.mark.slow  # builds Inception-v3 three times (the converter, the run, the check)
def test_with_the_damsm_image_encoder_the_converted_run_can_train(official, tmp_path):
    from t2izoo.generate import Text2Image
    from t2izoo.models.attngan.recipe import AttnGanRecipe

    _, files, _ = official
    image_encoder = official_image_encoder(16)  # the reference's D = 16
    files = {**files, "image_encoder": str(tmp_path / "image_encoder.pth")}
    torch.save({k: torch.from_numpy(v) for k, v in image_encoder.items()}, files["image_encoder"])
    run = convert("attngan", str(tmp_path / "run"), "cub", SMALL, **files)
    t2i = Text2Image.load(run)
    encoder = t2i.conditioner.image_encoder
    np.testing.assert_array_equal(np.asarray(encoder.global_projection.kernel), image_encoder["emb_cnn_code.weight"].T)
    np.testing.assert_array_equal(np.asarray(encoder.region_projection.kernel)[0, 0],
                                  image_encoder["emb_features.weight"][:, :, 0, 0].T)
    np.testing.assert_array_equal(np.asarray(encoder.backbone.Mixed_7c.branch_pool.bn.moving_mean),
                                  image_encoder["Mixed_7c.branch_pool.bn.running_mean"])
    AttnGanRecipe().check_inputs(t2i.config, run)  # no longer refused: the DAMSM loss has its encoder
    # an image encoder of another width is refused in one line, nothing written
    image_encoder["emb_cnn_code.weight"] = image_encoder["emb_cnn_code.weight"][:8]
    torch.save({k: torch.from_numpy(v) for k, v in image_encoder.items()}, files["image_encoder"])
    with pytest.raises(ConversionError, match="image_encoder.pth does not match the DAMSM image encoder"):
        convert("attngan", str(tmp_path / "bad"), "cub", SMALL, **files)
    assert not (tmp_path / "bad").exists()


@pytest.mark.slow  # builds Inception-v3 twice
def test_damsm_encoders_convert_to_a_damsm_run(official, tmp_path):
    from t2izoo.conditioning.damsm.pretrain import encode_captions, load_encoders

    arrays, files, _ = official
    image_encoder = official_image_encoder(16)
    path = str(tmp_path / "image_encoder.pth")
    torch.save({k: torch.from_numpy(v) for k, v in image_encoder.items()}, path)
    run = convert("damsm", str(tmp_path / "damsm"), "cub", ["max_words=8"], text_encoder=files["text_encoder"],
                  image_encoder=path, vocabulary=files["vocabulary"])
    text_encoder, images, config, vocab = load_encoders(run)  # what an AttnGAN run's text_encoder_dir gives
    assert config.image_encoder == "inception_torchvision" and config.embedding_dim == 16
    captions = [" ".join(f"w{i}" for i in row if i) for row in arrays["text_encoder_in/captions"]]
    words, sentences, _, _ = encode_captions(text_encoder, vocab, captions, 8)
    assert np.max(np.abs(sentences - arrays["text_encoder_out/sent_emb"])) <= TOLERANCE
    np.testing.assert_array_equal(np.asarray(images.global_projection.bias), image_encoder["emb_cnn_code.bias"])
    with pytest.raises(ConversionError, match="--from=damsm needs --text_encoder"):
        convert("damsm", str(tmp_path / "bad"), "cub", text_encoder=files["text_encoder"],
                vocabulary=files["vocabulary"])
    assert not (tmp_path / "bad").exists()
