"""GAN-INT-CLS trainer: matching-aware D, GAN-INT G, frozen pretrained text embeddings."""

import tensorflow as tf

from t2izoo.losses.matching_aware import (
    gan_int_generator_loss,
    interpolate_embeddings,
    matching_aware_discriminator_loss,
)
from t2izoo.trainers.base import GANTrainer, frozen


class GanIntClsTrainer(GANTrainer):
    """Alternating updates of GAN-INT-CLS on batches carrying precomputed text embeddings.

    Batches need `image_<size>`, `embedding` and `wrong_embedding` (the mean of several caption
    embeddings of the image and of a mismatched image, from the frozen char-CNN-RNN); the
    conditioning of `generate` is `{"embedding"}` (`CharCnnRnnConditioner`).

    Args:
        generator: `DCGANGenerator`.
        discriminator: `MatchingAwareDiscriminator`.
        text_encoder: the frozen `CharCnnRnnEncoder` (kept with the checkpoint so that a run
            directory alone can turn captions into images); not trained here.
        image_size: key of the images in the batch.
        cls_weight, interp_weight, interp_beta: see `GanIntClsConfig`.

    Reference: Reed et al. 2016, Algorithm 1 (GAN-CLS) and Sec. 4.3 (GAN-INT).
    """

    def __init__(self, generator, discriminator, text_encoder=None, image_size=64, cls_weight=0.5,
                 interp_weight=1.0, interp_beta=0.5, **kwargs):
        super().__init__(generator, discriminator, **kwargs)
        self.text_encoder = frozen(text_encoder)
        self.image_size = image_size
        self.cls_weight = cls_weight
        self.interp_weight = interp_weight
        self.interp_beta = interp_beta

    def loss_term_names(self):
        names = ["d_real", "d_wrong", "d_fake", "g_fake"]
        return names + (["g_interp"] if self.interp_weight > 0 else [])

    def batch_conditioning(self, batch):
        return {"embedding": batch["embedding"]}

    def forward(self, generator, conditioning, noise, training=True):
        return [generator((noise, conditioning["embedding"]), training=training)], {}

    def discriminator_loss(self, batch, noise):
        images, text = batch[f"image_{self.image_size}"], batch["embedding"]
        fake = tf.stop_gradient(self.forward(self.generator, {"embedding": text}, noise)[0][-1])
        real_logits = self.discriminator((images, text), training=True)
        wrong_logits = self.discriminator((images, batch["wrong_embedding"]), training=True)
        fake_logits = self.discriminator((fake, text), training=True)
        return matching_aware_discriminator_loss(real_logits, wrong_logits, fake_logits, self.cls_weight)

    def generator_loss(self, batch, noise):
        text = batch["embedding"]
        fake = self.forward(self.generator, {"embedding": text}, noise)[0][-1]
        fake_logits = self.discriminator((fake, text), training=True)
        interp_logits = None
        if self.interp_weight > 0:
            t_int = interpolate_embeddings(text, self.interp_beta)
            interp = self.forward(self.generator, {"embedding": t_int}, noise[0::2])[0][-1]
            interp_logits = self.discriminator((interp, t_int), training=True)
        return gan_int_generator_loss(fake_logits, interp_logits, self.interp_weight)

    def get_config(self):
        return {**super().get_config(), "image_size": self.image_size, "cls_weight": self.cls_weight,
                "interp_weight": self.interp_weight, "interp_beta": self.interp_beta}
