"""The official checkpoints' keys and PyTorch shapes, written from the official model code.

`{key: shape}` of the `state_dict`s of StackGAN-v2's and AttnGAN's `G_NET`, their `D_NET64/128/256`
and the DAMSM `RNN_ENCODER` at any widths, from the module layout of `code/model.py` in
hanzhanggit/StackGAN-v2 and taoxugit/AttnGAN (the sizes each layer is built with there), not from
our Keras models. They say which keys and shapes a released checkpoint of a preset must hold,
make official-shaped state dicts for full-size conversion checks, and are checked against the
official code's own small state dicts (tests/convert/test_full_size.py).

BatchNorm entries carry weight, bias, running_mean and running_var (`num_batches_tracked` is
not listed: the converter ignores it).
"""

from __future__ import annotations

# Entries of a BatchNorm's state dict.
BATCH_NORM = ("weight", "bias", "running_mean", "running_var")
# The ones that are parameters (the rest are running statistics).
BATCH_NORM_PARAMETERS = ("weight", "bias")


def _conv(out: dict, key: str, c_in: int, c_out: int, k: int, bias: bool = False):
    out[f"{key}.weight"] = (c_out, c_in, k, k)
    if bias:
        out[f"{key}.bias"] = (c_out,)


def _bn(out: dict, key: str, channels: int):
    for name in BATCH_NORM:
        out[f"{key}.{name}"] = (channels,)


def _up_block(out: dict, key: str, c_in: int, c_out: int):
    """upBlock: Upsample, conv3x3(in, 2 out) (`.1`), BN (`.2`), GLU."""
    _conv(out, f"{key}.1", c_in, 2 * c_out, 3)
    _bn(out, f"{key}.2", 2 * c_out)


def _res_block(out: dict, key: str, channels: int):
    """ResBlock: conv3x3(c, 2c), BN, GLU, conv3x3(c, c), BN."""
    _conv(out, f"{key}.block.0", channels, 2 * channels, 3)
    _bn(out, f"{key}.block.1", 2 * channels)
    _conv(out, f"{key}.block.3", channels, channels, 3)
    _bn(out, f"{key}.block.4", channels)


def _shared_generator(out: dict, ngf: int, z_dim: int, condition_dim: int, text_dim: int, head_widths):
    """CA_NET (Linear(text, 4 c) + GLU), INIT_STAGE_G(16 ngf) over [z, c], and GET_IMAGE_G heads."""
    out["ca_net.fc.weight"] = (4 * condition_dim, text_dim)
    out["ca_net.fc.bias"] = (4 * condition_dim,)
    width = 16 * ngf
    out["h_net1.fc.0.weight"] = (width * 4 * 4 * 2, z_dim + condition_dim)  # bias-free
    _bn(out, "h_net1.fc.1", width * 4 * 4 * 2)
    for i in range(4):
        _up_block(out, f"h_net1.upsample{i + 1}", width // 2 ** i, width // 2 ** (i + 1))
    for i, w in enumerate(head_widths):
        _conv(out, f"img_net{i + 1}.img.0", w, 3, 3)  # conv3x3 + tanh, bias-free


def attngan_generator(ngf: int = 32, text_dim: int = 256, condition_dim: int = 100, z_dim: int = 100,
                      num_residual: int = 2, num_stages: int = 3) -> dict:
    """AttnGAN `G_NET` (GF_DIM, TEXT.EMBEDDING_DIM, GAN.CONDITION_DIM, Z_DIM, R_NUM, BRANCH_NUM):
    every stage is `ngf` wide; NEXT_STAGE_G = GlobalAttentionGeneral's bias-free 1x1
    `att.conv_context` (words -> ngf), R_NUM ResBlock(2 ngf) over [h, context], upBlock(2 ngf, ngf)."""
    out = {}
    _shared_generator(out, ngf, z_dim, condition_dim, text_dim, [ngf] * num_stages)
    for i in range(2, num_stages + 1):
        key = f"h_net{i}"
        _conv(out, f"{key}.att.conv_context", text_dim, ngf, 1)
        for k in range(num_residual):
            _res_block(out, f"{key}.residual.{k}", 2 * ngf)
        _up_block(out, f"{key}.upsample", 2 * ngf, ngf)
    return out


def stackgan_v2_generator(ngf: int = 64, text_dim: int = 1024, condition_dim: int = 128, z_dim: int = 100,
                          num_residual: int = 2, num_stages: int = 3) -> dict:
    """StackGAN-v2 `G_NET` (GF_DIM, TEXT.DIMENSION, GAN.EMBEDDING_DIM, Z_DIM, R_NUM, BRANCH_NUM;
    B_CONDITION): stage i >= 2 is NEXT_STAGE_G(ngf / 2^(i-2)): `jointConv` (conv3x3 over
    [c, h] + BN + GLU), R_NUM ResBlock(width), upBlock(width, width / 2); stage i's image head is
    ngf / 2^(i-1) wide."""
    out = {}
    _shared_generator(out, ngf, z_dim, condition_dim, text_dim, [ngf // 2 ** i for i in range(num_stages)])
    for i in range(2, num_stages + 1):
        key, width = f"h_net{i}", ngf // 2 ** (i - 2)
        _conv(out, f"{key}.jointConv.0", width + condition_dim, 2 * width, 3)
        _bn(out, f"{key}.jointConv.1", 2 * width)
        for k in range(num_residual):
            _res_block(out, f"{key}.residual.{k}", width)
        _up_block(out, f"{key}.upsample", width, width // 2)
    return out


def discriminator(image_size: int, ndf: int = 64, condition_dim: int = 128, official: str = "stackgan_v2") -> dict:
    """D_NET64/128/256: encode_image_by_16times(ndf) (`img_code_s16`), then for 128 px downBlock to
    16 ndf and Block3x3_leakRelu back to 8 ndf, for 256 px two downBlocks (16, 32 ndf) and two
    Block3x3_leakRelu (16, 8 ndf); a conditional head (Block3x3_leakRelu over [code, condition] +
    a 4x4/4 conv with bias) and an unconditional 4x4/4 conv with bias.

    Args:
        official: "stackgan_v2" (`jointConv`, `logits`, `uncond_logits`; condition = EMBEDDING_DIM)
            or "attngan" (`COND_DNET.jointConv`, `COND_DNET.outlogits`, `UNCOND_DNET.outlogits`;
            condition = TEXT.EMBEDDING_DIM).
    """
    out = {}
    _conv(out, "img_code_s16.0", 3, ndf, 4)
    for conv, norm, c_in, c_out in (("2", "3", ndf, 2 * ndf), ("5", "6", 2 * ndf, 4 * ndf),
                                    ("8", "9", 4 * ndf, 8 * ndf)):
        _conv(out, f"img_code_s16.{conv}", c_in, c_out, 4)
        _bn(out, f"img_code_s16.{norm}", c_out)

    def block(key, c_in, c_out, k):
        _conv(out, f"{key}.0", c_in, c_out, k)
        _bn(out, f"{key}.1", c_out)

    if image_size >= 128:
        block("img_code_s32", 8 * ndf, 16 * ndf, 4)
    if image_size == 128:
        block("img_code_s32_1", 16 * ndf, 8 * ndf, 3)
    if image_size == 256:
        block("img_code_s64", 16 * ndf, 32 * ndf, 4)
        block("img_code_s64_1", 32 * ndf, 16 * ndf, 3)
        block("img_code_s64_2", 16 * ndf, 8 * ndf, 3)
    if official == "stackgan_v2":
        joint, logits, uncond = "jointConv", "logits", "uncond_logits"
    elif official == "attngan":
        joint, logits, uncond = "COND_DNET.jointConv", "COND_DNET.outlogits", "UNCOND_DNET.outlogits"
    else:
        raise ValueError(f"official must be stackgan_v2 or attngan, got {official!r}")
    block(joint, 8 * ndf + condition_dim, 8 * ndf, 3)
    _conv(out, f"{logits}.0", 8 * ndf, 1, 4, bias=True)
    _conv(out, f"{uncond}.0", 8 * ndf, 1, 4, bias=True)
    return out


def damsm_text_encoder(num_words: int, embedding_dim: int = 256, word_dim: int = 300) -> dict:
    """DAMSM `RNN_ENCODER(ntoken, nhidden=TEXT.EMBEDDING_DIM)`: nn.Embedding(ntoken, 300) and a
    one-layer bidirectional LSTM of nhidden / 2 per direction (gates i, f, g, o stacked)."""
    hidden = embedding_dim // 2
    out = {"encoder.weight": (num_words, word_dim)}
    for suffix in ("", "_reverse"):
        out[f"rnn.weight_ih_l0{suffix}"] = (4 * hidden, word_dim)
        out[f"rnn.weight_hh_l0{suffix}"] = (4 * hidden, hidden)
        out[f"rnn.bias_ih_l0{suffix}"] = (4 * hidden,)
        out[f"rnn.bias_hh_l0{suffix}"] = (4 * hidden,)
    return out


def parameter_count(shapes: dict) -> int:
    """Parameters of a layout (BatchNorm running statistics are not parameters)."""
    import math

    return sum(math.prod(shape) for key, shape in shapes.items()
               if not key.endswith((".running_mean", ".running_var")))
