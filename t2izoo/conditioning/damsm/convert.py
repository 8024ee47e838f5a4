"""Official DAMSM weights (taoxugit/AttnGAN `text_encoder*.pth`, `RNN_ENCODER`, and
`image_encoder*.pth`, `CNN_ENCODER`) into `BiLstmTextEncoder` and `DamsmTorchvisionEncoder`.

`encoder` (nn.Embedding) -> the embedding; `rnn` (a one-layer bidirectional LSTM) -> each
direction's LSTM cell. PyTorch orders the gates (i, f, g, o) as Keras does (i, f, c, o), so the
kernels only transpose; its two biases (`bias_ih`, `bias_hh`) add into Keras' one.
"""

import numpy as np

from t2izoo.convert.state_dict import StateDict


def assign_text_encoder(state: StateDict, encoder):
    """`RNN_ENCODER`'s state dict into a built `BiLstmTextEncoder` (same vocabulary and widths)."""
    state.assign_embedding(encoder.embedding, "encoder")
    for layer, suffix in ((encoder.rnn.forward_layer, ""), (encoder.rnn.backward_layer, "_reverse")):
        cell = layer.cell
        w_ih, w_hh = state.take(f"rnn.weight_ih_l0{suffix}"), state.take(f"rnn.weight_hh_l0{suffix}")
        b_ih, b_hh = state.take(f"rnn.bias_ih_l0{suffix}"), state.take(f"rnn.bias_hh_l0{suffix}")
        state.set(cell.kernel, None if w_ih is None else np.transpose(w_ih), f"rnn.weight_ih_l0{suffix}")
        state.set(cell.recurrent_kernel, None if w_hh is None else np.transpose(w_hh), f"rnn.weight_hh_l0{suffix}")
        state.set(cell.bias, None if b_ih is None or b_hh is None else b_ih + b_hh, f"rnn.bias_*_l0{suffix}")


def assign_image_encoder(state: StateDict, encoder):
    """`CNN_ENCODER`'s state dict into a built `DamsmTorchvisionEncoder` (same D): the torchvision
    Inception-v3 modules it keeps (`Conv2d_1a_3x3` ... `Mixed_7c`), `emb_features` (bias-free 1x1
    conv, 768 -> D) and `emb_cnn_code` (linear, 2048 -> D)."""
    from t2izoo.convert.inception import assign_inception

    assign_inception(state, encoder.backbone)
    state.assign_conv(encoder.region_projection, "emb_features")
    state.assign_dense(encoder.global_projection, "emb_cnn_code")


def read_captions_pickle(path: str) -> list:
    """The official vocabulary, `ixtoword` of AttnGAN's `captions.pickle` ([train, test, ixtoword,
    wordtoix]), as a list in id order; id 0 is `<end>`, the padding."""
    import os
    import pickle

    from t2izoo.convert.state_dict import ConversionError

    if not os.path.isfile(path):
        raise ConversionError(f"{path}: no such vocabulary file")
    try:
        with open(path, "rb") as f:
            data = pickle.load(f)
        ixtoword = data[2]
        words = [ixtoword[i] for i in range(len(ixtoword))]
    except Exception as err:  # not a pickle, or not AttnGAN's layout
        raise ConversionError(f"{path} is not AttnGAN's captions.pickle ([train, test, ixtoword, wordtoix]): "
                              f"{type(err).__name__}: {err}") from None
    if not words or words[0] != "<end>":
        raise ConversionError(f"{path}: ixtoword[0] is {words[0] if words else None!r}, not '<end>'")
    return words


def official_text_encoder(arrays: dict, source: str, vocabulary: str):
    """(StateDict ready for `assign_text_encoder`, our `Vocabulary`, the DamsmConfig widths) of an
    official RNN_ENCODER state dict and its captions.pickle.

    The official vocabulary is mapped, not rebuilt: our id k + 1 is official id k (0, `<end>`, is
    the padding in both); our `<unk>` (id 1) gets a zero word vector, where the official code
    drops words it does not know.
    """
    from t2izoo.convert.state_dict import ConversionError
    from t2izoo.data.text import Vocabulary

    words = read_captions_pickle(vocabulary)
    text = StateDict(arrays, source)
    embedding = text.take("encoder.weight")
    hidden = text.take("rnn.weight_hh_l0")
    if embedding is None or hidden is None:
        raise ConversionError(f"{source} is not a DAMSM text encoder (RNN_ENCODER): it has no encoder.weight and "
                              "rnn.weight_hh_l0")
    if embedding.shape[0] != len(words):
        raise ConversionError(f"{vocabulary} has {len(words)} words but {source} embeds {embedding.shape[0]}: the "
                              "vocabulary and the text encoder do not belong together")
    rows = np.zeros((len(words) + 1, embedding.shape[1]), np.float32)
    rows[0], rows[2:] = embedding[0], embedding[1:]
    text.arrays[text.prefix + "encoder.weight"] = rows
    widths = dict(word_embedding_dim=int(embedding.shape[1]), hidden_dim=int(hidden.shape[1]),
                  embedding_dim=2 * int(hidden.shape[1]))
    return text, Vocabulary(words[1:]), widths


def convert_run(out: str, preset: str, overrides=(), text_encoder: str = "", image_encoder: str = "",
                vocabulary: str = "", checkpoint: str = "", arrays=None) -> str:
    """Official DAMSM encoders (`text_encoder*.pth`, `image_encoder*.pth`) + captions.pickle -> a
    DAMSM run directory (`image_encoder="inception_torchvision"`), usable as an AttnGAN run's
    `text_encoder_dir` (its frozen encoders and DAMSM loss) as a pretraining run is.

    Args:
        checkpoint: accepted for the image encoder (`--checkpoint` is the CLI's main file).
        arrays: {"text_encoder": {key: array}, "image_encoder": {key: array}} instead of files (tests).
    """
    import dataclasses

    from t2izoo import configs as config_lib
    from t2izoo.conditioning.damsm.config import DAMSM_PRESETS
    from t2izoo.convert.run_dir import write_run
    from t2izoo.convert.state_dict import ConversionError, load_torch_state_dict

    image_encoder = image_encoder or checkpoint
    if not (vocabulary and (arrays or (text_encoder and image_encoder))):
        raise ConversionError("--from=damsm needs --text_encoder (RNN_ENCODER), --image_encoder (CNN_ENCODER) and "
                              "--vocabulary (captions.pickle)")
    arrays = arrays or {"text_encoder": load_torch_state_dict(text_encoder),
                        "image_encoder": load_torch_state_dict(image_encoder)}
    text, vocab, widths = official_text_encoder(arrays["text_encoder"], text_encoder or "text_encoder", vocabulary)
    config = config_lib.apply_overrides(dataclasses.replace(DAMSM_PRESETS[preset], dataset=preset,
                                                            image_encoder="inception_torchvision", **widths),
                                        overrides)

    def fill(trainer, conditioner):
        assign_text_encoder(text, trainer.text_encoder)
        text.finish(f"a DAMSM text encoder of {len(vocab)} words")
        images = StateDict(arrays["image_encoder"], image_encoder or "image_encoder")
        assign_image_encoder(images, trainer.image_encoder)
        images.finish(f"the DAMSM image encoder (CNN_ENCODER, D = {config.embedding_dim})")

    return write_run(out, config, vocab, {}, fill)
