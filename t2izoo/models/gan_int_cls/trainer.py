"""GAN-INT-CLS trainer: matching-aware D, GAN-INT G, frozen pretrained text embeddings."""

import tensorflow as tf

from t2izoo.losses.matching_aware import (
    gan_int_generator_loss,
    gan_int_joint_generator_loss,
    interpolate_embeddings,
    matching_aware_discriminator_loss,
)
from t2izoo.trainers.base import GANTrainer, frozen

INTERP_PASSES = ("joint", "separate")
WRONG_PAIRS = ("wrong_image", "wrong_text")


class GanIntClsTrainer(GANTrainer):
    """Alternating updates of GAN-INT-CLS on batches carrying precomputed text embeddings.

    Batches need `image_<size>`, `embedding` and, for D's mismatched pair, `wrong_image_<size>`
    (`wrong_pair="wrong_image"`) or `wrong_embedding` (`"wrong_text"`): the mean of several
    caption embeddings of the image and of a mismatched image, from the frozen char-CNN-RNN. The
    conditioning of `generate` is `{"embedding"}` (`CharCnnRnnConditioner`).

    Args:
        generator: `DCGANGenerator`.
        discriminator: `MatchingAwareDiscriminator`.
        text_encoder: the frozen `CharCnnRnnEncoder` (kept with the checkpoint so that a run
            directory alone can turn captions into images); not trained here.
        image_size: key of the images in the batch.
        cls_weight, interp_weight, interp_beta, interp_pass, g_fresh_noise, wrong_pair: see
            `GanIntClsConfig` (the defaults are icml2016 main_cls_int.lua's behaviour).

    Reference: Reed et al. 2016, Algorithm 1 (GAN-CLS) and Sec. 4.3 (GAN-INT).
    """

    def __init__(self, generator, discriminator, text_encoder=None, image_size=64, cls_weight=0.5,
                 interp_weight=1.0, interp_beta=0.5, interp_pass="joint", g_fresh_noise=True,
                 wrong_pair="wrong_image", **kwargs):
        super().__init__(generator, discriminator, **kwargs)
        self.text_encoder = frozen(text_encoder)
        self.image_size = image_size
        self.cls_weight = cls_weight
        self.interp_weight = interp_weight
        self.interp_beta = interp_beta
        if interp_pass not in INTERP_PASSES:
            raise ValueError(f"interp_pass must be one of {INTERP_PASSES}, got {interp_pass!r}")
        if wrong_pair not in WRONG_PAIRS:
            raise ValueError(f"wrong_pair must be one of {WRONG_PAIRS}, got {wrong_pair!r}")
        self.interp_pass = interp_pass
        self.g_fresh_noise = g_fresh_noise
        self.wrong_pair = wrong_pair

    def loss_term_names(self):
        names = ["d_real", "d_wrong", "d_fake", "g_fake"]
        return names + (["g_interp"] if self.interp_weight > 0 else [])

    def batch_conditioning(self, batch):
        return {"embedding": batch["embedding"]}

    def forward(self, generator, conditioning, noise, training=True):
        return [generator((noise, conditioning["embedding"]), training=training)], {}

    def discriminator_loss(self, batch, noise):
        images, text = batch[f"image_{self.image_size}"], batch["embedding"]
        fake = tf.stop_gradient(self.shared_forward({"embedding": text}, noise)[0][-1])
        real_logits = self.discriminator((images, text), training=True)
        if self.wrong_pair == "wrong_image":  # icml2016: {image of another class, right text}
            wrong_logits = self.discriminator((batch[f"wrong_image_{self.image_size}"], text), training=True)
        else:
            wrong_logits = self.discriminator((images, batch["wrong_embedding"]), training=True)
        fake_logits = self.discriminator((fake, text), training=True)
        return matching_aware_discriminator_loss(real_logits, wrong_logits, fake_logits, self.cls_weight)

    def generator_loss(self, batch, noise):
        text = batch["embedding"]
        interp = self.interp_weight > 0
        noise = self._generator_noise(batch, noise, interp)
        rows = tf.shape(text)[0]
        if interp and self.interp_pass == "joint":
            # icml2016: B fake rows and B/2 interpolated rows in one pass through G and D (one
            # set of batch-norm statistics), weighted 2 : 1 by `gan_int_joint_generator_loss`.
            t_all = tf.concat([text, interpolate_embeddings(text, self.interp_beta)], axis=0)
            images = self.forward(self.generator, {"embedding": t_all}, noise)[0][-1]
            logits = self.discriminator((images, t_all), training=True)
            return gan_int_joint_generator_loss(logits, rows, self.interp_weight)
        if self.g_fresh_noise:  # icml2016 draws G's step anew: a second pass
            fake = self.forward(self.generator, {"embedding": text}, noise[:rows])[0][-1]
        else:  # noise[:rows] is D's step's noise
            fake = self.shared_forward({"embedding": text}, noise[:rows])[0][-1]
        fake_logits = self.discriminator((fake, text), training=True)
        interp_logits = None
        if interp:
            t_int = interpolate_embeddings(text, self.interp_beta)
            interp_images = self.forward(self.generator, {"embedding": t_int}, noise[rows:])[0][-1]
            interp_logits = self.discriminator((interp_images, t_int), training=True)
        return gan_int_generator_loss(fake_logits, interp_logits, self.interp_weight)

    def _generator_noise(self, batch, noise, interp):
        """The G step's noise: B rows for the fake images, then B/2 for the interpolated ones.

        With `g_fresh_noise` (icml2016) it is new noise, or the batch's `g_noise` [B, z] when
        the batch carries it (tests: two runs see the same noise); otherwise D's step's noise.
        The interpolated rows of given noise reuse its even rows.
        """
        if self.g_fresh_noise and "g_noise" not in batch:
            # Drawn through `sample_noise` (per example), so a test harness can pin it per example.
            fresh = self.sample_noise({"index": batch["index"]})
            if not interp:
                return fresh
            return tf.concat([fresh, self.sample_noise({"index": batch["index"][0::2]})], axis=0)
        base = batch["g_noise"] if self.g_fresh_noise else noise
        return tf.concat([base, base[0::2]], axis=0) if interp else base

    def get_config(self):
        return {**super().get_config(), "image_size": self.image_size, "cls_weight": self.cls_weight,
                "interp_weight": self.interp_weight, "interp_beta": self.interp_beta,
                "interp_pass": self.interp_pass, "g_fresh_noise": self.g_fresh_noise,
                "wrong_pair": self.wrong_pair}
