"""`python -m t2izoo.convert --from=stackgan_v2`: the official `netG_*.pth` (made here with torch.save
from the official reference arrays, with DataParallel's `module.` prefix) and the official
char-CNN-RNN embeddings (a StackGAN-v2 data folder made here: embeddings pickle, filenames.pickle,
caption files) -> a run directory that reproduces the official generator from the captions alone;
captions it holds no embedding for, and bad files, are refused in one line."""

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

REFERENCE = pathlib.Path(os.environ.get("T2IZOO_OFFICIAL_REFERENCE") or
                         pathlib.Path(__file__).resolve().parents[3] / "shared" / "reference" / "official")
pytestmark = pytest.mark.skipif(not REFERENCE.is_dir(), reason=f"no official reference arrays at {REFERENCE}")
# hanzhanggit/StackGAN-v2 cfg/birds_3stages.yml at the reference's widths (TEXT.DIMENSION 32: the table's).
SMALL = ["ngf=4", "ndf=4", "z_dim=12", "condition_dim=8", "num_residual=2"]
TOLERANCE = 1e-4
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
NAMES = ["001.Albatross/Albatross_0001", "001.Albatross/Albatross_0002", "014.Bunting/Bunting_0003"]


def captions_of(i: int) -> list:
    return [f"bird {i} has a short beak and {['red', 'blue', 'grey'][i]} wings", f"a small bird number {i}"]


def write_split(root: pathlib.Path, embeddings: np.ndarray, names=NAMES, text_dir="text") -> str:
    """A StackGAN-v2 split: <root>/test/{char-CNN-RNN-embeddings,filenames}.pickle, <root>/text/..."""
    (root / "test").mkdir(parents=True, exist_ok=True)
    with open(root / "test" / "char-CNN-RNN-embeddings.pickle", "wb") as f:
        pickle.dump(embeddings, f, protocol=2)
    with open(root / "test" / "filenames.pickle", "wb") as f:
        pickle.dump(list(names), f, protocol=2)
    for i, name in enumerate(names):
        path = root / text_dir / f"{name}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(captions_of(i)[:1]) + "\n\n" + "\n".join(captions_of(i)[1:]) + "\n")
    return str(root / "test" / "char-CNN-RNN-embeddings.pickle")


@pytest.fixture(scope="module")
def official(tmp_path_factory):
    root = tmp_path_factory.mktemp("official")
    arrays = dict(np.load(REFERENCE / "stackgan2_small.npz"))
    generator = {f"module.{k[len('generator/'):]}": torch.from_numpy(np.array(v))
                 for k, v in arrays.items() if k.startswith("generator/")}
    torch.save(generator, root / "netG_210000.pth")
    text = arrays["generator_in/text_embedding"]  # [3, 32]: caption 0 of image i
    other = np.random.default_rng(0).normal(size=text.shape).astype(np.float32)
    embeddings = write_split(root / "birds", np.stack([text, other], axis=1))
    return arrays, {"checkpoint": str(root / "netG_210000.pth"), "embeddings": embeddings}, root


@pytest.fixture(scope="module")
def converted(official, tmp_path_factory):
    _, files, _ = official
    return convert("stackgan_v2", str(tmp_path_factory.mktemp("runs") / "stackgan_v2_official"), "cub", SMALL,
                   **files)


def test_the_converted_run_reproduces_the_official_generator_from_captions(official, converted):
    from t2izoo.generate import Text2Image

    arrays, _, _ = official
    t2i = Text2Image.load(converted)
    captions = [captions_of(i)[0] for i in range(3)]
    text = np.asarray(t2i.conditioner.conditioning(captions)["embedding"])
    np.testing.assert_array_equal(text, arrays["generator_in/text_embedding"])
    noise = np.concatenate([arrays["generator_in/z"], arrays["generator_in/eps"]], axis=1)
    images = t2i.trainer.generate({"embedding": text}, noise, all_scales=True)  # the EMA generator
    for image, size in zip(images, (64, 128, 256)):
        want = np.transpose(arrays[f"generator_out/image_{size}"], (0, 2, 3, 1))
        assert np.max(np.abs(np.asarray(image) - want)) <= TOLERANCE, size
    second = np.asarray(t2i.conditioner.conditioning([captions_of(2)[1]])["embedding"])
    assert np.abs(second - text[2]).max() > 0.1  # each caption its own row
    pixels = t2i(captions[:1], num_per_caption=2, seed=0)
    assert pixels.shape == (2, 256, 256, 3) and pixels.dtype == np.uint8 and pixels.std() > 1


def test_a_caption_without_an_official_embedding_is_refused_by_name(converted):
    from t2izoo.errors import ConfigError
    from t2izoo.generate import Text2Image

    t2i = Text2Image.load(converted)
    with pytest.raises(ConfigError, match=r"1 of 2 captions are not among the 6 .*'a small bird number 7'"):
        t2i([captions_of(0)[0], "a small bird number 7"])
    # the in-graph lookup (what an export runs) gives zeros for it, the table row for a known one
    found = t2i.conditioner.encoder.lookup(t2i.conditioner.python_tokens(["a small bird", captions_of(1)[1]])["chars"])
    assert np.asarray(found[1]).tolist() == [False, True]
    assert not np.asarray(found[0])[0].any()


def test_the_command_line(official, converted, tmp_path):
    _, files, _ = official
    base = [sys.executable, "-m", "t2izoo.convert", "--from=stackgan_v2", f"--checkpoint={files['checkpoint']}",
            f"--embeddings={files['embeddings']}", "--preset=cub", *[f"--override={o}" for o in SMALL]]
    ok = subprocess.run(base + [f"--out={tmp_path / 'run'}"], capture_output=True, text=True, env=ENV, timeout=600)
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert f"wrote {tmp_path / 'run'}" in ok.stdout
    generate = [sys.executable, "-m", "t2izoo.generate", f"--model_dir={converted}", "--num=1"]
    good = subprocess.run(generate + [f"--caption={captions_of(1)[0]}", f"--out={tmp_path / 'out.png'}"],
                          capture_output=True, text=True, env=ENV, timeout=600)
    assert good.returncode == 0, good.stderr[-2000:]
    assert (tmp_path / "out.png").stat().st_size > 0
    bad = subprocess.run(generate + ["--caption=a bird no one described", f"--out={tmp_path / 'bad.png'}"],
                         capture_output=True, text=True, env=ENV, timeout=600)
    lines = bad.stderr.strip().splitlines()
    assert bad.returncode == 2 and lines[-1].startswith("error: ") and "not among the 6" in lines[-1], bad.stderr
    assert "Traceback" not in bad.stderr and not (tmp_path / "bad.png").exists()
    other = subprocess.run(base + ["--vocabulary=captions.pickle", f"--out={tmp_path / 'other'}"],
                           capture_output=True, text=True, env=ENV, timeout=600)
    assert other.returncode == 2 and other.stderr.strip().splitlines()[-1] == (
        "error: --from=stackgan_v2 takes no --vocabulary"), other.stderr


@pytest.mark.parametrize("case", ["no_filenames", "few_captions", "other_dim", "truncated", "attngan_checkpoint"])
def test_bad_input_is_refused_and_nothing_is_written(case, official, tmp_path):
    arrays, files, _ = official
    files = dict(files)
    text = arrays["generator_in/text_embedding"]
    if case == "no_filenames":
        files["embeddings"] = write_split(tmp_path / "birds", np.stack([text, text], axis=1))
        os.remove(tmp_path / "birds" / "test" / "filenames.pickle")
        match = r"filenames.pickle: not found \(the image names of these embeddings\)"
    elif case == "few_captions":
        files["embeddings"] = write_split(tmp_path / "birds", np.stack([text, text, text], axis=1))
        match = r"Albatross_0001.txt: 2 captions for 3 embeddings in .*char-CNN-RNN-embeddings.pickle"
    elif case == "other_dim":
        files["embeddings"] = write_split(tmp_path / "birds", np.stack([text[:, :16], text[:, :16]], axis=1))
        match = r"netG_210000.pth does not match StackGAN-v2's generator .* 16-d text embeddings.*shape"
    elif case == "truncated":
        data = pathlib.Path(files["embeddings"]).read_bytes()
        files["embeddings"] = write_split(tmp_path / "birds", np.stack([text, text], axis=1))
        pathlib.Path(files["embeddings"]).write_bytes(data[: len(data) // 2])
        match = r"char-CNN-RNN-embeddings.pickle: not a readable pickle \(the official char-CNN-RNN embeddings\)"
    else:
        attngan = dict(np.load(REFERENCE / "attngan_small.npz"))
        torch.save({k[len("generator/"):]: torch.from_numpy(np.array(v)) for k, v in attngan.items()
                    if k.startswith("generator/")}, tmp_path / "bird_AttnGAN2.pth")
        files["checkpoint"] = str(tmp_path / "bird_AttnGAN2.pth")
        match = r"bird_AttnGAN2.pth does not match StackGAN-v2's generator.*(missing|unknown)"
    out = tmp_path / "run"
    with pytest.raises(ConversionError, match=match) as err:
        convert("stackgan_v2", str(out), "cub", SMALL, **files)
    assert "\n" not in str(err.value)
    assert not out.exists() and not list(tmp_path.glob("run.partial-*"))


def test_captions_are_read_from_stackgan_v1s_text_c10_too(official, tmp_path):
    from t2izoo.conditioning.char_cnn_rnn.official import read_official_embeddings

    rows = np.arange(3 * 2 * 4, dtype=np.float32).reshape(3, 2, 4)
    first = write_split(tmp_path / "v1", rows, text_dir="text_c10")
    captions, vectors = read_official_embeddings([first, first])  # a repeated split adds nothing
    assert captions == [c for i in range(3) for c in captions_of(i)]
    np.testing.assert_array_equal(vectors, rows.reshape(6, 4))


@pytest.mark.slow  # SavedModel and TFLite conversion of a 256 px generator
def test_a_converted_run_exports_and_serves_known_captions(converted, tmp_path):
    import tensorflow as tf

    from t2izoo.export import saved_model as sm

    loaded = sm.load_run(converted)
    result = sm.export_saved_model(converted, str(tmp_path), "stackgan_v2_official", loaded=loaded)
    _, adapter = loaded
    captions = [captions_of(0)[1], captions_of(2)[0]]
    served = tf.saved_model.load(result.path).signatures[sm.SEEDED_SIGNATURE](
        captions=tf.constant(captions), seed=tf.constant([3, 4]))["images"].numpy()
    want = adapter.reference_images(captions, [3, 4])
    assert served.shape == (2, 256, 256, 3)
    assert np.max(np.abs(served.astype(int) - want.astype(int))) <= 1
    with pytest.raises(tf.errors.InvalidArgumentError, match="not among the 6 whose official char-CNN-RNN"):
        tf.saved_model.load(result.path).signatures[sm.SEEDED_SIGNATURE](
            captions=tf.constant(["a caption nobody embedded"]), seed=tf.constant([3]))
    from t2izoo.export import tflite

    files = tflite.export_tflite(converted, str(tmp_path), "none", "stackgan_v2_official", loaded=loaded)["files"]
    tflite.check_builtins_only(files["text_encoder"], "the table text encoder")
    chars = adapter.python_tokens(captions)["chars"]
    on_phone = [tflite.run_tflite(files["text_encoder"], {"chars": chars[i:i + 1]})["embedding"][0] for i in range(2)]
    np.testing.assert_allclose(np.stack(on_phone), np.asarray(adapter.t2i.conditioner.conditioning(captions)["embedding"]),
                               atol=1e-6)
    unknown = adapter.python_tokens(["a caption nobody embedded"])["chars"]
    assert not tflite.run_tflite(files["text_encoder"], {"chars": unknown})["embedding"].any()  # no check there


def test_the_python_api_takes_arrays_in_memory(official, tmp_path):
    from t2izoo.generate import Text2Image

    arrays, _, _ = official
    generator = {k[len("generator/"):]: v for k, v in arrays.items() if k.startswith("generator/")}
    text = arrays["generator_in/text_embedding"]
    run = convert("stackgan_v2", str(tmp_path / "run"), "cub", SMALL, arrays=generator,
                  table=(["one caption", "another caption", "a third"], text))
    got = Text2Image.load(run).conditioner.conditioning(["a third", "one caption"])["embedding"]
    np.testing.assert_array_equal(np.asarray(got), text[[2, 0]])
