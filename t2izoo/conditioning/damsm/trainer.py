"""DAMSM pretraining trainer: bi-LSTM text encoder + image encoder with the DAMSM losses."""

import keras
import tensorflow as tf

from t2izoo.losses.damsm import damsm_loss
from t2izoo.trainers.prebuilt import PrebuiltTrainer
from t2izoo.trainers.replicas import clip_summed_gradients, gather_global_batch, local_mean

LOSS_TERMS = ("word_i2t", "word_t2i", "sentence_i2t", "sentence_t2i")


def damsm_terms(regions, image_vectors, words, sentence_vectors, lengths, class_ids, gamma1, gamma2, gamma3,
                aggregation):
    """The four DAMSM terms of this replica's examples, scored against the global batch."""
    (regions, image_vectors, words, sentence_vectors, lengths, class_ids), offset, local = gather_global_batch(
        (regions, image_vectors, words, sentence_vectors, lengths, class_ids))
    terms = damsm_loss(regions, image_vectors, words, sentence_vectors, lengths, class_ids, gamma1, gamma2,
                       gamma3, aggregation, reduce=False)
    return {k: local_mean(v, offset, local) for k, v in terms.items()}


class DamsmTrainer(PrebuiltTrainer):
    """Trains the text encoder and the image encoder's projections with L_DAMSM.

    L = L1^w + L2^w + L1^s + L2^s (code/pretrain_DAMSM.py: w_loss0 + w_loss1 + s_loss0 + s_loss1).
    The text encoder's gradients are clipped to global norm `rnn_grad_clip` (RNN_GRAD_CLIP), the
    image encoder's are not: the two sides have their own optimizers (`compile(text_optimizer,
    image_optimizer)`, Adam is per-parameter, so together they are upstream's single Adam).

    Batches need `tokens`, `lengths`, `class_ids` and `image_<image_size>`.

    Args:
        text_encoder: `BiLstmTextEncoder`.
        image_encoder: `DamsmInceptionEncoder` or `DamsmSmallCnnEncoder`.
        image_size: key of the images in the batch.
        gamma1, gamma2, gamma3, aggregation: see `damsm_word_loss`.

    Reference: Xu et al., AttnGAN, CVPR 2018, Sec. 3.3; code/pretrain_DAMSM.py train().
    """

    def __init__(self, text_encoder, image_encoder, image_size=299, gamma1=4.0, gamma2=5.0, gamma3=10.0,
                 aggregation="code", **kwargs):
        super().__init__(**kwargs)
        self.text_encoder = text_encoder
        self.image_encoder = image_encoder
        self.image_size = image_size
        self.gamma1, self.gamma2, self.gamma3 = gamma1, gamma2, gamma3
        self.aggregation = aggregation
        self.trackers = {n: keras.metrics.Mean(name=n) for n in ("damsm_loss",) + LOSS_TERMS + ("batch_r1",)}

    def compile(self, text_optimizer, image_optimizer, **kwargs):
        super().compile(**kwargs)
        self.text_optimizer = text_optimizer
        self.image_optimizer = image_optimizer

    @property
    def metrics(self):
        return list(self.trackers.values())

    def encode(self, batch, training):
        regions, image_vectors = self.image_encoder(batch[f"image_{self.image_size}"], training=training)
        words, sentence = self.text_encoder((batch["tokens"], batch["lengths"]), training=training)
        return regions, image_vectors, words, sentence

    def losses_of(self, batch, training):
        regions, image_vectors, words, sentence = self.encode(batch, training)
        terms = damsm_terms(regions, image_vectors, words, sentence, batch["lengths"], batch["class_ids"],
                            self.gamma1, self.gamma2, self.gamma3, self.aggregation)
        return terms, image_vectors, sentence

    def build_from_batch(self, batch):
        self.encode(batch, training=False)
        self.text_optimizer.build(self.text_encoder.trainable_variables)
        self.image_optimizer.build(self.image_encoder.trainable_variables)
        self.built = True

    def train_step(self, batch):
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        text_vars = self.text_encoder.trainable_variables
        image_vars = self.image_encoder.trainable_variables
        with tf.GradientTape() as tape:
            terms, image_vectors, sentence = self.losses_of(batch, training=True)
            loss = tf.add_n([terms[k] for k in LOSS_TERMS])
            scaled = loss / replicas
        grads = tape.gradient(scaled, text_vars + image_vars)
        # The word embedding's gradient comes as IndexedSlices with a row per occurrence; the global
        # norm of those rows is not the norm of the summed (dense) gradient that is applied, so the
        # RNN clip let up to a few % more through. Dense, it clips what PyTorch's clip_grad_norm_ does.
        grads = [tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g for g in grads]
        text_grads = clip_summed_gradients(grads[:len(text_vars)], self.text_optimizer.global_clipnorm)
        self.text_optimizer.apply_gradients(zip(text_grads, text_vars))
        self.image_optimizer.apply_gradients(zip(grads[len(text_vars):], image_vars))
        # Top-1 sentence retrieval of each image within the replica batch (same class counts).
        image_unit = tf.math.l2_normalize(image_vectors, -1)
        text_unit = tf.math.l2_normalize(sentence, -1)
        best = tf.argmax(tf.matmul(image_unit, text_unit, transpose_b=True), axis=1)
        hit = tf.gather(batch["class_ids"], best) == batch["class_ids"]
        values = {"damsm_loss": loss, "batch_r1": tf.reduce_mean(tf.cast(hit, tf.float32)), **terms}
        for name, tracker in self.trackers.items():
            tracker.update_state(values[name])
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def call(self, inputs, training=False):
        """Text features of (tokens, lengths): (words [B, T, D], sentence [B, D])."""
        return self.text_encoder(inputs, training=training)

    def get_config(self):
        return {"image_size": self.image_size, "gamma1": self.gamma1, "gamma2": self.gamma2,
                "gamma3": self.gamma3, "aggregation": self.aggregation}
