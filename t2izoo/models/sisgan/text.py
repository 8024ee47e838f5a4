"""SISGAN's own text side: the GRU visual-semantic embedding (VSE), pretrained with the pairwise
ranking loss at the start of a run and then frozen, and the conditioner that turns captions into
its sentence vectors."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from t2izoo.conditioning.base import Conditioner
from t2izoo.conditioning.word_tokens import WordIdTokens
from t2izoo.losses.ranking import pairwise_ranking_loss


class SisganTextConditioner(WordIdTokens, Conditioner):
    """Captions -> word ids [B, T] + lengths [B] (the run's vocabulary) -> frozen GRU ->
    `{"sentence": [B, D]}`.

    The encoder is trained by the SISGAN run itself (`VseTrainer`, before the GAN steps) and
    kept with its checkpoint, so there is no separate pretraining run to find.
    """

    kind = "sisgan_vse"
    stored_config = ""

    @property
    def dim(self) -> int:
        return self.encoder.feature_dim

    def resources(self):
        return [self.encoder, self.table]

    def encode(self, tokens):
        return {"sentence": self.encoder((tokens["tokens"], tokens["lengths"]), training=False)}

    def conditioning_specs(self, batch):
        return [tf.TensorSpec([batch, self.dim], tf.float32, name="sentence")]

    def encoder_description(self, batch):
        return (f"word ids int32 [{batch}, {self.max_words}] + lengths int32 [{batch}] -> sentence float32 "
                f"[{batch}, D] (SISGAN's GRU VSE)")


class VseTrainer(keras.Model):
    """Visual-semantic embedding: text encoder and image encoder trained so that matching
    (image, caption) pairs score above the batch's other pairs by `margin` (cosine).

    Args:
        text_encoder: `GruSentenceEncoder`.
        image_encoder: images [B, S, S, 3] in [-1, 1] -> [B, D] (the same D).
        image_size: key of the batch images.
        margin: the ranking margin (0.2).

    Reference: Dong et al., ICCV 2017, Sec. 3.3; Kiros et al. 2014; dong_iccv_2017
    train_text_embedding.py.
    """

    def __init__(self, text_encoder, image_encoder, image_size=64, margin=0.2, **kwargs):
        super().__init__(**kwargs)
        self.text_encoder = text_encoder
        self.image_encoder = image_encoder
        self.image_size = image_size
        self.margin = margin
        self.loss_tracker = keras.metrics.Mean(name="vse_loss")

    @property
    def metrics(self):
        return [self.loss_tracker]

    def vse_loss(self, batch, training=True):
        text = self.text_encoder((batch["tokens"], batch["lengths"]), training=training)
        image = self.image_encoder(batch[f"image_{self.image_size}"], training=training)
        return pairwise_ranking_loss(image, text, self.margin)

    def train_step(self, batch):
        variables = self.text_encoder.trainable_variables + self.image_encoder.trainable_variables
        with tf.GradientTape() as tape:
            loss = self.vse_loss(batch)
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        self.loss_tracker.update_state(loss)
        return {"vse_loss": self.loss_tracker.result()}


def caption_retrieval_r1(text_encoder, image_encoder, batch, image_size: int) -> float:
    """Share of the batch's images whose own caption is the nearest of the batch's captions."""
    text = np.array(text_encoder((batch["tokens"], batch["lengths"]), training=False))
    image = np.array(image_encoder(batch[f"image_{image_size}"], training=False))
    text /= np.linalg.norm(text, axis=-1, keepdims=True) + 1e-8
    image /= np.linalg.norm(image, axis=-1, keepdims=True) + 1e-8
    return float(np.mean(np.argmax(image @ text.T, axis=1) == np.arange(len(text))))
