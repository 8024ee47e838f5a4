"""Layer-for-layer parity with the official code: the arrays in ../shared/reference/official/ (the
official AttnGAN and StackGAN-v2 modules at small widths, eval mode, their own inputs and outputs)
reproduced by our models after converting their state dicts (max |diff| <= 1e-4)."""

import os
import pathlib

import numpy as np
import pytest

from t2izoo.convert.state_dict import ConversionError, StateDict

# The arrays of ../shared/reference/official/ beside the repository ($T2IZOO_OFFICIAL_REFERENCE elsewhere).
REFERENCE = pathlib.Path(os.environ.get("T2IZOO_OFFICIAL_REFERENCE") or
                         pathlib.Path(__file__).resolve().parents[3] / "shared" / "reference" / "official")
TOLERANCE = 1e-4

pytestmark = pytest.mark.skipif(not REFERENCE.is_dir(), reason=f"no official reference arrays at {REFERENCE}")


def nhwc(x):
    return np.transpose(np.asarray(x), (0, 2, 3, 1))


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, np.float64)))


def max_diff(got, want) -> float:
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, (got.shape, want.shape)
    return float(np.max(np.abs(got - want)))


@pytest.fixture(scope="module")
def attngan():
    return dict(np.load(REFERENCE / "attngan_small.npz"))


@pytest.fixture(scope="module")
def stackgan2():
    return dict(np.load(REFERENCE / "stackgan2_small.npz"))


def module(arrays, name, source):
    """(StateDict of module `name`, its inputs, its outputs)."""
    weights = {k[len(name) + 1:]: v for k, v in arrays.items() if k.startswith(name + "/")}
    inputs = {k[len(name) + 4:]: v for k, v in arrays.items() if k.startswith(name + "_in/")}
    outputs = {k[len(name) + 5:]: v for k, v in arrays.items() if k.startswith(name + "_out/")}
    return StateDict(weights, f"{source}:{name}"), inputs, outputs


def test_attngan_text_encoder(attngan):
    from t2izoo.conditioning.damsm.convert import assign_text_encoder
    from t2izoo.encoders.bilstm import BiLstmTextEncoder

    state, inputs, outputs = module(attngan, "text_encoder", "attngan_small.npz")
    encoder = BiLstmTextEncoder(vocab_size=30, embedding_dim=300, hidden_dim=8)
    tokens, lengths = inputs["captions"].astype(np.int32), inputs["cap_lens"].astype(np.int32)
    encoder((tokens, lengths))
    assign_text_encoder(state, encoder)
    state.finish("BiLstmTextEncoder(30, 300, 8)")
    words, sentence = encoder((tokens, lengths), training=False)
    assert max_diff(words, np.transpose(outputs["words_emb"], (0, 2, 1))) <= TOLERANCE
    assert max_diff(sentence, outputs["sent_emb"]) <= TOLERANCE


def test_attngan_generator_images_attention_and_ca(attngan):
    from t2izoo.models.attngan.convert import assign_generator
    from t2izoo.models.attngan.generator import AttnGanGenerator

    state, x, want = module(attngan, "generator", "attngan_small.npz")
    g = AttnGanGenerator(base_size=64, num_stages=3, z_dim=12, condition_dim=8, ngf=4, num_residual=2)
    inputs = (x["z"], x["sent_emb"], np.transpose(x["words_emb"], (0, 2, 1)), ~x["mask"].astype(bool), x["eps"])
    g(inputs)
    assign_generator(state, g)
    state.finish("AttnGanGenerator(ngf=4)")
    images, maps, mu, log_sigma = g(inputs, training=False)
    for image, size in zip(images, (64, 128, 256)):
        assert max_diff(image, nhwc(want[f"image_{size}"])) <= TOLERANCE, size
    assert max_diff(mu, want["mu"]) <= TOLERANCE
    assert max_diff(2 * np.asarray(log_sigma), want["logvar"]) <= TOLERANCE  # ours keeps log sigma
    lengths = (~x["mask"].astype(bool)).sum(1)
    for stage, attention in zip((2, 3), maps):
        for b, n in enumerate(lengths):
            official = want[f"attention_stage{stage}_sample{b}"][0]  # (len_b, H, W)
            assert max_diff(np.transpose(np.asarray(attention)[b, :, :, :n], (2, 0, 1)), official) <= TOLERANCE
            assert np.all(np.asarray(attention)[b, :, :, n:] == 0)  # padded words get no attention


@pytest.mark.parametrize("size", [64, 128, 256])
@pytest.mark.parametrize("source", ["attngan", "stackgan2"])
def test_discriminator_probabilities(source, size, attngan, stackgan2):
    from t2izoo.layers.stage_discriminator import StageDiscriminator

    arrays = attngan if source == "attngan" else stackgan2
    if source == "attngan":
        from t2izoo.models.attngan.convert import assign_discriminator
    else:
        from t2izoo.models.stackgan_v2.convert import assign_discriminator
    state, x, want = module(arrays, f"discriminator_{size}", f"{source}_small.npz")
    condition = x["sent_emb"] if source == "attngan" else x["c_code"]
    d = StageDiscriminator(image_size=size, ndf=4, variant="stackgan_v2")
    image = nhwc(x["image"])
    d((image, condition))
    assign_discriminator(state, d)
    state.finish(f"StageDiscriminator({size}, ndf=4)")
    cond, uncond = d((image, condition), training=False)
    assert max_diff(sigmoid(cond), want["cond_prob"]) <= TOLERANCE
    assert max_diff(sigmoid(uncond), want["uncond_prob"]) <= TOLERANCE


def test_stackgan_v2_generator(stackgan2):
    from t2izoo.models.stackgan_v2.convert import assign_generator
    from t2izoo.models.stackgan_v2.generator import MultiStageGenerator

    state, x, want = module(stackgan2, "generator", "stackgan2_small.npz")
    g = MultiStageGenerator(base_size=64, num_stages=3, z_dim=12, condition_dim=8, ngf=4, num_residual=2)
    inputs = (x["z"], x["text_embedding"], x["eps"])
    g(inputs)
    assign_generator(state, g)
    state.finish("MultiStageGenerator(ngf=4)")
    images, mu, log_sigma = g(inputs, training=False)
    for image, size in zip(images, (64, 128, 256)):
        assert max_diff(image, nhwc(want[f"image_{size}"])) <= TOLERANCE, size
    assert max_diff(mu, want["mu"]) <= TOLERANCE
    assert max_diff(2 * np.asarray(log_sigma), want["logvar"]) <= TOLERANCE


def test_a_state_dict_of_another_model_is_refused_in_one_line(attngan):
    """StackGAN-v2's generator weights into AttnGAN's generator: one error naming the source and
    what does not match (missing, mis-shaped and unknown keys)."""
    from t2izoo.models.attngan.convert import assign_generator
    from t2izoo.models.attngan.generator import AttnGanGenerator

    stackgan = dict(np.load(REFERENCE / "stackgan2_small.npz"))
    state, _, _ = module(stackgan, "generator", "netG.pth")
    g = AttnGanGenerator(base_size=64, num_stages=3, z_dim=12, condition_dim=8, ngf=4, num_residual=2)
    x = attngan
    g((x["generator_in/z"], x["generator_in/sent_emb"], np.transpose(x["generator_in/words_emb"], (0, 2, 1)),
       ~x["generator_in/mask"].astype(bool), x["generator_in/eps"]))
    assign_generator(state, g)
    with pytest.raises(ConversionError) as err:
        state.finish("AttnGanGenerator(ngf=4)")
    message = str(err.value)
    assert "\n" not in message and message.startswith("netG.pth:generator does not match AttnGanGenerator")
    assert "missing key(s): h_net2.att.conv_context.weight" in message
    assert "unknown key(s): h_net2.jointConv" in message and "ca_net.fc.weight: converted shape" in message
