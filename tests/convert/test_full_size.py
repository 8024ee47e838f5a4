"""Full-size conversion: state dicts with the official keys and shapes of the `cub` and `coco`
presets (made here from `t2izoo.convert.official_layout`, which is checked against the official
code's own small state dicts) convert into the presets' Keras models with nothing missing, left
over or mis-shaped, and with the pinned parameter counts; a converted full-size AttnGAN run
exports (SavedModel and TFLite)."""

import os
import pathlib
import pickle

import numpy as np
import pytest

from t2izoo.convert import official_layout as layout
from t2izoo.convert.state_dict import StateDict

REFERENCE = pathlib.Path(os.environ.get("T2IZOO_OFFICIAL_REFERENCE") or
                         pathlib.Path(__file__).resolve().parents[3] / "shared" / "reference" / "official")
# Words in the released captions.pickle: CUB (bird) and COCO (AttnGAN's DAMSM text encoders).
VOCABULARY = {"cub": 5450, "coco": 27297}
# Trainable parameters of the official modules at the presets (= our Keras models after conversion).
# (The text encoder's counts are the official ones less the second LSTM bias, which Keras adds in.)
PINNED = {
    ("attngan", "cub"): {"generator": 7_084_592, "discriminator_64": 6_313_730, "discriminator_128": 19_424_002,
                         "discriminator_256": 71_858_946, "text_encoder": 2_074_296},
    ("attngan", "coco"): {"generator": 13_811_456, "discriminator_64": 13_304_450, "discriminator_128": 42_800_258,
                          "discriminator_256": 160_774_274, "text_encoder": 8_628_396},
    ("stackgan_v2", "cub"): {"generator": 21_239_696, "discriminator_64": 5_723_906, "discriminator_128": 18_834_178,
                             "discriminator_256": 71_269_122},
}


def official_arrays(shapes: dict, seed: int) -> dict:
    """Random arrays of `shapes` (BN variances positive), as a released state dict would hold."""
    rng = np.random.default_rng(seed)
    return {k: (rng.uniform(0.5, 1.5, s) if k.endswith("running_var") else rng.uniform(-0.05, 0.05, s)
                ).astype(np.float32) for k, s in shapes.items()}


def trainable(model) -> int:
    return sum(int(np.prod(v.shape)) for v in model.trainable_variables)


@pytest.mark.skipif(not REFERENCE.is_dir(), reason=f"no official reference arrays at {REFERENCE}")
def test_the_layouts_are_the_official_small_state_dicts():
    # reference README: AttnGAN GF_DIM 4, DF_DIM 4, TEXT.EMBEDDING_DIM 16, CONDITION_DIM 8, Z_DIM 12,
    # R_NUM 2, 30 words; StackGAN-v2 GF_DIM 4, DF_DIM 4, EMBEDDING_DIM 8, Z_DIM 12, TEXT.DIMENSION 32.
    cases = {"attngan_small.npz": {"generator": layout.attngan_generator(4, 16, 8, 12, 2, 3),
                                   "text_encoder": layout.damsm_text_encoder(30, 16),
                                   **{f"discriminator_{s}": layout.discriminator(s, 4, 16, "attngan")
                                      for s in (64, 128, 256)}},
             "stackgan2_small.npz": {"generator": layout.stackgan_v2_generator(4, 32, 8, 12, 2, 3),
                                     **{f"discriminator_{s}": layout.discriminator(s, 4, 8, "stackgan_v2")
                                        for s in (64, 128, 256)}}}
    for name, modules in cases.items():
        arrays = np.load(REFERENCE / name)
        for module, shapes in modules.items():
            official = {k[len(module) + 1:]: tuple(arrays[k].shape) for k in arrays.files
                        if k.startswith(module + "/")}
            assert official == shapes, f"{name}:{module}"


def preset_modules(family: str, preset: str):
    """{name: (built Keras module, official layout, converter)} of `family` at `preset`'s widths."""
    from t2izoo.layers.stage_discriminator import StageDiscriminator

    if family == "attngan":
        from t2izoo.conditioning.damsm.convert import assign_text_encoder
        from t2izoo.encoders.bilstm import BiLstmTextEncoder
        from t2izoo.models.attngan.config import ATTNGAN_PRESETS as PRESETS
        from t2izoo.models.attngan.convert import assign_discriminator, assign_generator
        from t2izoo.models.attngan.generator import AttnGanGenerator as Generator
        text_dim = 256  # DAMSM TEXT.EMBEDDING_DIM of both presets
    else:
        from t2izoo.models.stackgan_v2.config import STACKGAN_V2_PRESETS as PRESETS
        from t2izoo.models.stackgan_v2.convert import assign_discriminator, assign_generator
        from t2izoo.models.stackgan_v2.generator import MultiStageGenerator as Generator
        text_dim = 1024  # TEXT.DIMENSION: the char-CNN-RNN embedding
    c = PRESETS[preset]
    g = Generator(base_size=c.base_size, num_stages=c.num_stages, z_dim=c.z_dim, condition_dim=c.condition_dim,
                  ngf=c.ngf, num_residual=c.num_residual)
    z, text, eps = np.zeros((1, c.z_dim), "float32"), np.zeros((1, text_dim), "float32"), np.zeros(
        (1, c.condition_dim), "float32")
    if family == "attngan":
        words = np.zeros((1, c.max_words, text_dim), "float32")
        g((z, text, words, np.zeros((1, c.max_words), bool), eps))
        g_layout = layout.attngan_generator(c.ngf, text_dim, c.condition_dim, c.z_dim, c.num_residual, c.num_stages)
        condition = text
    else:
        g((z, text, eps))
        g_layout = layout.stackgan_v2_generator(c.ngf, text_dim, c.condition_dim, c.z_dim, c.num_residual,
                                                c.num_stages)
        condition = eps
    modules = {"generator": (g, g_layout, assign_generator)}
    for s in c.image_sizes:
        d = StageDiscriminator(image_size=s, ndf=c.ndf, variant="stackgan_v2")
        d((np.zeros((1, s, s, 3), "float32"), condition))
        modules[f"discriminator_{s}"] = (d, layout.discriminator(s, c.ndf, condition.shape[1], family),
                                         assign_discriminator)
    if family == "attngan":
        encoder = BiLstmTextEncoder(vocab_size=VOCABULARY[preset], embedding_dim=300, hidden_dim=text_dim // 2)
        encoder((np.ones((1, 4), "int32"), np.array([4], "int32")))
        modules["text_encoder"] = (encoder, layout.damsm_text_encoder(VOCABULARY[preset], text_dim),
                                   assign_text_encoder)
    return modules


@pytest.mark.parametrize("family, preset", [
    ("attngan", "cub"),
    pytest.param("attngan", "coco", marks=pytest.mark.slow),  # 230M parameters to build and fill
    pytest.param("stackgan_v2", "cub", marks=pytest.mark.slow)])
def test_full_size_state_dicts_convert_with_the_pinned_parameter_counts(family, preset):
    counts = {}
    for i, (name, (model, shapes, assign)) in enumerate(preset_modules(family, preset).items()):
        arrays = official_arrays(shapes, i)
        state = StateDict(arrays, f"{family}_{preset}:{name}")
        assign(state, model)
        state.finish(name)  # nothing missing, left over or mis-shaped
        counts[name] = trainable(model)
        # PyTorch's LSTM has two biases per direction where Keras adds them into one
        merged = sum(v[0] for k, v in shapes.items() if k.startswith("rnn.bias_hh"))
        assert counts[name] == layout.parameter_count(shapes) - merged, name
        # the arrays arrived: the first conv/linear kernel holds the official one, transposed
        first = next(k for k in shapes if k.endswith(".weight") and len(shapes[k]) in (2, 4))
        kernels = [np.asarray(v) for v in model.weights if "kernel" in v.path or "embeddings" in v.path]
        official = arrays[first]
        want = np.transpose(official, (2, 3, 1, 0)) if official.ndim == 4 else official.T
        if name == "text_encoder":
            want = official
        assert any(k.shape == want.shape and np.allclose(k, want) for k in kernels), name
    assert counts == PINNED[(family, preset)]


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("T2IZOO_FULL_SIZE_EXPORT"),
                    reason="opt-in (T2IZOO_FULL_SIZE_EXPORT=1): building the full-size run (G, three Ds and their "
                           "optimizer slots, ~100M parameters) and converting a 256 px generator to SavedModel and "
                           "TFLite takes longer than the suite's 900 s per-test limit on 2 cores")
@pytest.mark.timeout(3600)
def test_a_full_size_attngan_run_converts_and_exports(tmp_path):
    from t2izoo.convert.__main__ import convert
    from t2izoo.export import saved_model as sm
    from t2izoo.export import tflite
    from t2izoo.models.attngan.config import ATTNGAN_PRESETS

    c = ATTNGAN_PRESETS["cub"]
    words = VOCABULARY["cub"]
    ixtoword = {0: "<end>", **{i: f"w{i}" for i in range(1, words)}}
    with open(tmp_path / "captions.pickle", "wb") as f:
        pickle.dump([[], [], ixtoword, {w: i for i, w in ixtoword.items()}], f)
    arrays = {"generator": official_arrays(layout.attngan_generator(c.ngf, 256, c.condition_dim, c.z_dim,
                                                                    c.num_residual, c.num_stages), 0),
              "text_encoder": official_arrays(layout.damsm_text_encoder(words, 256), 1)}
    run = convert("attngan", str(tmp_path / "run"), "cub", vocabulary=str(tmp_path / "captions.pickle"),
                  arrays=arrays)
    loaded = sm.load_run(run)
    t2i, adapter = loaded
    assert trainable(t2i.trainer.generator) == PINNED[("attngan", "cub")]["generator"]
    result = sm.export_saved_model(run, str(tmp_path / "export"), "attngan_cub", loaded=loaded)
    assert os.path.isfile(os.path.join(result.path, "saved_model.pb"))
    files = tflite.export_tflite(run, str(tmp_path / "tflite"), "none", "attngan_cub", loaded=loaded)["files"]
    assert os.path.getsize(files["generator"]) > 4 * 7_000_000 and os.path.getsize(files["text_encoder"]) > 0
