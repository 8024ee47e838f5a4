"""SISGAN trainer: D on matching, mismatched and "relevant" texts; G adversarial + KL."""

import keras
import tensorflow as tf

from t2izoo.losses.adversarial import generator_bce
from t2izoo.losses.kl import conditioning_kl
from t2izoo.losses.matching_aware import matching_aware_discriminator_loss
from t2izoo.trainers.base import GANTrainer, frozen
from t2izoo.trainers.manipulation import ManipulationModel


def relevant_texts(matching, mismatched, first_half=None):
    """SISGAN's "relevant" texts t_hat: the first half of the batch takes the mismatched texts, the
    second half its own (dong_iccv_2017 train.py); the generator edits x towards t_hat.

    `first_half`: bool [B], which rows are in the first half of the *global* batch (under a
    distribution strategy a replica holds a slice of it); default: the first half of these rows."""
    if first_half is None:
        b = keras.ops.shape(matching)[0]
        first_half = keras.ops.arange(b) < b // 2
    return keras.ops.where(first_half[:, None], mismatched, matching)


def sisgan_discriminator_loss(real_logits, wrong_logits, fake_logits, cls_weight=0.5):
    """L_D = BCE(D(x, t), 1) + w BCE(D(x, t_mis), 0) + (1 - w) BCE(D(G(x, t_hat), t_hat), 0), w = 0.5
    (Dong et al., ICCV 2017, Eq. 2 with the code's 1/2 weights): the matching-aware loss with the
    fake scored against the relevant text it was made from."""
    return matching_aware_discriminator_loss(real_logits, wrong_logits, fake_logits, cls_weight)


def sisgan_generator_loss(fake_logits, mu, log_sigma, kl_weight=1.0):
    """L_G = BCE(D(G(x, t_hat), t_hat), 1) + kl_weight * KL(N(mu, sigma) || N(0, I)) (Eq. 3 and the CA term)."""
    adversarial = generator_bce(fake_logits)
    kl = conditioning_kl(mu, log_sigma)
    return adversarial + kl_weight * kl, {"g_fake": adversarial, "kl": kl}


class SisganTrainer(ManipulationModel, GANTrainer):
    """Alternating D/G updates of SISGAN on batches of images, captions and mismatched captions.

    Batches need `image_<size>`, `tokens`/`lengths` and `wrong_tokens`/`wrong_lengths`; the frozen
    GRU VSE (`text_encoder`) turns them into sentence vectors. The generator's conditioning is
    `{"images", "sentence"}`; its noise is the CA noise.

    Args:
        generator: `SisganGenerator`.
        discriminator: `StageDiscriminator(variant="stackgan")`: 4 stride-2 convs + residual
            branch, text compressed and tiled, conv1x1, conv4x4 (SISGAN's D).
        text_encoder: the frozen `GruSentenceEncoder` (trained by the run's VSE phase).
        image_size: key of the batch images.
        cls_weight, kl_weight: see `SisganConfig`.

    Reference: Dong et al., ICCV 2017, Sec. 3; woozzu/dong_iccv_2017 train.py.
    """

    def __init__(self, generator, discriminator, text_encoder, image_size=64, cls_weight=0.5, kl_weight=1.0,
                 **kwargs):
        super().__init__(generator, discriminator, **kwargs)
        self.text_encoder = frozen(text_encoder)
        self.image_size = image_size
        self.cls_weight = cls_weight
        self.kl_weight = kl_weight

    def loss_term_names(self):
        return ["d_real", "d_wrong", "d_fake", "g_fake", "kl"]

    def sentences(self, batch, prefix=""):
        return self.text_encoder((batch[prefix + "tokens"], batch[prefix + "lengths"]), training=False)

    def batch_conditioning(self, batch):
        return {"images": batch[f"image_{self.image_size}"], "sentence": self.sentences(batch)}

    def forward(self, generator, conditioning, noise, training=True):
        images, mu, log_sigma = generator((conditioning["images"], conditioning["sentence"], noise), training=training)
        return [images], {"mu": mu, "log_sigma": log_sigma}

    def _texts(self, batch):
        text, wrong = self.sentences(batch), self.sentences(batch, "wrong_")
        # The rows of this replica in the global batch (the official halves are the global batch's).
        ctx = tf.distribute.get_replica_context()
        local = tf.shape(text)[0]
        replicas, replica = (ctx.num_replicas_in_sync, ctx.replica_id_in_sync_group) if ctx else (1, 0)
        rows = replica * local + tf.range(local)
        return text, wrong, relevant_texts(text, wrong, rows < (replicas * local) // 2)

    def discriminator_loss(self, batch, noise):
        images = batch[f"image_{self.image_size}"]
        text, wrong, relevant = self._texts(batch)
        fake = tf.stop_gradient(self.shared_forward({"images": images, "sentence": relevant}, noise)[0][-1])
        real_logits = self.discriminator((images, text), training=True)
        wrong_logits = self.discriminator((images, wrong), training=True)
        fake_logits = self.discriminator((fake, relevant), training=True)
        return sisgan_discriminator_loss(real_logits, wrong_logits, fake_logits, self.cls_weight)

    def generator_loss(self, batch, noise):
        images = batch[f"image_{self.image_size}"]
        _, _, relevant = self._texts(batch)
        out, extras = self.shared_forward({"images": images, "sentence": relevant}, noise)
        fake_logits = self.discriminator((out[-1], relevant), training=True)
        return sisgan_generator_loss(fake_logits, extras["mu"], extras["log_sigma"], self.kl_weight)

    def manipulate(self, images, conditioning, use_ema=True):
        """G(x, phi(t')) with the CA mean (no CA noise), so an edit is deterministic."""
        images = tf.convert_to_tensor(images, tf.float32)
        sentence = conditioning["sentence"]
        noise = tf.zeros((tf.shape(sentence)[0], self.z_dim))
        return self.forward(self.generator_for(use_ema), {"images": images, "sentence": sentence}, noise,
                            training=False)[0][-1]

    def manipulation_models(self):
        return [self.generator_for(True)]

    def get_config(self):
        return {**super().get_config(), "image_size": self.image_size, "cls_weight": self.cls_weight,
                "kl_weight": self.kl_weight}
