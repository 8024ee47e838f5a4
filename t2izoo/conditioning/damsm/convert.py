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
