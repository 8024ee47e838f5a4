"""Joint text-image embedding trainer (DS-SJE) for the char-CNN-RNN encoder."""

import keras
import tensorflow as tf

from t2izoo.losses.sje import hard_image_text_loss, scene_negative_mask, symmetric_sje_per_example
from t2izoo.trainers.prebuilt import PrebuiltTrainer
from t2izoo.trainers.replicas import clip_summed_gradients, gather_global_batch, local_mean

SJE_NEGATIVES = ("class", "scene")


class SjeTrainer(PrebuiltTrainer):
    """Trains a text encoder and an image encoder with the symmetric SJE hinge loss.

    Args:
        text_encoder: chars [B, 201] -> [B, D] (`CharCnnRnnEncoder`).
        image_encoder: images [B, S, S, 3] -> [B, D].
        image_size: key of the images in the batch.
        negatives: "class" (the paper: pairs of one class are not negatives) or "scene" (pairs
            whose scenes differ anywhere are; batches then need `attributes`).
        hard_negatives: NOT IN THE PAPER: add `hard_image_text_loss` of each image against
            `hard_chars`, a caption of its own scene changed one way.

    Batches need `chars`, `image_<size>` and `class_ids` (and `hard_chars` with hard_negatives).

    Reference: Reed et al., CVPR 2016, Sec. 3 (symmetric structured joint embedding).
    """

    def __init__(self, text_encoder, image_encoder, image_size=64, negatives="class", hard_negatives=False, **kwargs):
        super().__init__(**kwargs)
        if negatives not in SJE_NEGATIVES:
            raise ValueError(f"negatives={negatives!r}: expected one of {', '.join(SJE_NEGATIVES)}")
        self.negatives = negatives
        self.hard_negatives = hard_negatives
        self.text_encoder = text_encoder
        self.image_encoder = image_encoder
        self.image_size = image_size
        self.loss_tracker = keras.metrics.Mean(name="sje_loss")
        self.accuracy_tracker = keras.metrics.Mean(name="batch_r1")
        self.hard_tracker = keras.metrics.Mean(name="hard_r1")

    @property
    def metrics(self):
        return [self.loss_tracker, self.accuracy_tracker] + ([self.hard_tracker] if self.hard_negatives else [])

    def compute_embeddings(self, batch, training):
        text = self.text_encoder(batch["chars"], training=training)
        image = self.image_encoder(batch[f"image_{self.image_size}"], training=training)
        return text, image

    def checkpoint_optimizers(self):
        return [self.optimizer]

    def build_from_batch(self, batch):
        self.compute_embeddings(batch, training=False)  # hard_chars use the same text encoder
        self.optimizer.build(self.text_encoder.trainable_variables + self.image_encoder.trainable_variables)
        self.built = True

    def train_step(self, batch):
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        variables = self.text_encoder.trainable_variables + self.image_encoder.trainable_variables
        with tf.GradientTape() as tape:
            text, image = self.compute_embeddings(batch, training=True)
            # Every image is scored against every caption of the global batch (all replicas'),
            # as on one device; this replica's pairs' terms are averaged.
            pairs = {"image": image, "text": text, "class_ids": batch["class_ids"]}
            if self.negatives == "scene":
                pairs["attributes"] = batch["attributes"]
            pairs, offset, local = gather_global_batch(pairs)
            mask = scene_negative_mask(pairs["attributes"]) if self.negatives == "scene" else None
            loss = local_mean(symmetric_sje_per_example(pairs["image"], pairs["text"], pairs["class_ids"],
                                                        negative_mask=mask), offset, local)
            if self.hard_negatives:
                hard_text = self.text_encoder(batch["hard_chars"], training=True)
                true_scores = keras.ops.sum(image * text, axis=-1)
                hard_scores = keras.ops.sum(image * hard_text, axis=-1)
                loss = loss + hard_image_text_loss(true_scores, hard_scores)
            scaled = loss / replicas  # inside the tape, or the gradient is None
        # The optimizer's global_clipnorm (cvpr2016's 5) would clip each replica's share before the
        # sum: the summed gradient is clipped instead, as on one device.
        grads = clip_summed_gradients(tape.gradient(scaled, variables), self.optimizer.global_clipnorm)
        self.optimizer.apply_gradients(zip(grads, variables))
        # Top-1 text->image retrieval in the batch (a same-class image counts as correct).
        best = keras.ops.argmax(keras.ops.matmul(text, keras.ops.transpose(image)), axis=1)
        hit = keras.ops.take(batch["class_ids"], best) == batch["class_ids"]
        self.loss_tracker.update_state(loss)
        self.accuracy_tracker.update_state(keras.ops.mean(keras.ops.cast(hit, "float32")))
        logs = {"sje_loss": self.loss_tracker.result(), "batch_r1": self.accuracy_tracker.result()}
        if self.hard_negatives:  # how often the image already scores its caption above the changed one
            self.hard_tracker.update_state(keras.ops.mean(keras.ops.cast(true_scores > hard_scores, "float32")))
            logs["hard_r1"] = self.hard_tracker.result()
        return logs

    def call(self, chars, training=False):
        return self.text_encoder(chars, training=training)
