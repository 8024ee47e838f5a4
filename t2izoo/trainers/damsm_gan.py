"""The DAMSM-conditioned multi-scale GAN trainer (AttnGAN's objective), shared by AttnGAN and
SD-GAN: joint conditional/unconditional D per scale + DAMSM loss + CA KL in G."""

import tensorflow as tf

from t2izoo.conditioning.damsm.trainer import LOSS_TERMS, damsm_terms
from t2izoo.encoders.bilstm import damsm_text_conditioning, word_mask
from t2izoo.losses.jcu import jcu_discriminator_loss, jcu_generator_loss, scale_term_names, sum_over_scales
from t2izoo.losses.kl import conditioning_kl
from t2izoo.trainers.base import GANTrainer, frozen
from t2izoo.trainers.conditioning_noise import ConditioningNoiseMixin


def averaged_jcu_discriminator_loss(real, wrong, fake):
    """One scale's D loss as upstream's `discriminator_loss`: the real terms averaged, the three
    fake and mismatched terms averaged,
        (BCE(Du(x), 1) + BCE(Dc(x, s), 1)) / 2 + (BCE(Du(G(z)), 0) + BCE(Dc(G(z), s), 0) + BCE(Dc(x, s_w), 0)) / 3.
    """
    _, t = jcu_discriminator_loss(real, wrong, fake)
    return (t["d_real_uncond"] + t["d_real"]) / 2.0 + (t["d_fake_uncond"] + t["d_fake"] + t["d_wrong"]) / 3.0


class DamsmGanTrainer(ConditioningNoiseMixin, GANTrainer):
    """Alternating updates of an AttnGAN-style GAN with frozen, pretrained DAMSM encoders
    (the AttnGAN objective; SD-GAN adds its Siamese branch and contrastive term on top).

    D_i (one per scale) scores (x_i, sentence) with the joint heads; its loss is upstream's
        L_D_i = (BCE(Du(x), 1) + BCE(Dc(x, s), 1)) / 2
                + (BCE(Du(G(z)), 0) + BCE(Dc(G(z), s), 0) + BCE(Dc(x, s_wrong), 0)) / 3.
    G: sum_i [BCE(Dc(G_i, s), 1) + BCE(Du(G_i), 1)] + lambda * (L1^w + L2^w + L1^s + L2^s) on the
    last scale's images (DAMSM image encoder) + kl_weight * KL.

    The mismatched pair is {real image, sentence of the pipeline's caption of another class}
    (`wrong_tokens`), where upstream pairs real_features[:-1] with sentence[1:] of its batch:
    the same kind of pair, and it does not depend on how the batch is split over replicas. The
    DAMSM terms score this replica's examples against the whole global batch (all-gathered), so
    a Mirrored step equals a one-device step.

    Batches need `tokens`, `lengths`, `wrong_tokens`, `wrong_lengths`, `class_ids` and
    `image_<s>` for every scale.

    Args:
        generator: an `AttentionTreeGenerator` (AttnGAN's, or SD-GAN's with SCBN).
        discriminator: `MultiScaleDiscriminator` of `StageDiscriminator(variant="stackgan_v2")`.
        text_encoder: frozen DAMSM `BiLstmTextEncoder` (run in inference mode, as upstream's
            `text_encoder.eval()`).
        image_encoder: frozen DAMSM image encoder (only for the DAMSM loss); None in a run converted
            without it, which generates but does not train (the recipe's `check_inputs`).
        image_sizes: the generator's scales.
        damsm_weight: lambda (CUB 5, COCO 50).
        kl_weight: KL coefficient (1).
        gamma1, gamma2, gamma3, aggregation: DAMSM loss settings.

    Reference: Xu et al., AttnGAN, CVPR 2018, Eq. 3-6 and 14; taoxugit/AttnGAN code/trainer.py
    `condGANTrainer.train`, code/miscc/losses.py `discriminator_loss` / `generator_loss`.
    """

    def __init__(self, generator, discriminator, text_encoder, image_encoder, image_sizes=(64, 128, 256),
                 damsm_weight=5.0, kl_weight=1.0, gamma1=4.0, gamma2=5.0, gamma3=10.0, aggregation="code", **kwargs):
        super().__init__(generator, discriminator, **kwargs)
        self.text_encoder = frozen(text_encoder)
        self.image_encoder = frozen(image_encoder)
        self.image_sizes = tuple(image_sizes)
        self.damsm_weight = damsm_weight
        self.kl_weight = kl_weight
        self.gamma1, self.gamma2, self.gamma3 = gamma1, gamma2, gamma3
        self.aggregation = aggregation

    def loss_term_names(self):
        return scale_term_names(self.image_sizes) + ["damsm", "kl"]

    def batch_conditioning(self, batch):
        return damsm_text_conditioning(self.text_encoder, batch["tokens"], batch["lengths"])

    def encode_captions(self, captions):
        """[(tokens [B_i, T], lengths [B_i]), ...] -> their `batch_conditioning`s, from one frozen
        text-encoder call over the stacked rows. Each caption's features are its own row's (the
        encoder is deterministic and row-wise), so this is what separate calls give, to float
        round-off; the bi-LSTM is a sequential loop whose cost hardly grows with the rows, a visible
        part of a `shapes` step."""
        sizes = [tf.shape(tokens)[0] for tokens, _ in captions]
        both = damsm_text_conditioning(self.text_encoder, tf.concat([tokens for tokens, _ in captions], 0),
                                       tf.concat([tf.cast(lengths, tf.int32) for _, lengths in captions], 0))
        parts = {k: tf.split(v, sizes, axis=0) for k, v in both.items()}
        return [{k: parts[k][i] for k in both} for i in range(len(captions))]

    def step_conditioning(self, batch, key="fake"):
        """(`batch_conditioning(batch)`, the same of its mismatched captions `wrong_tokens`), from one
        `encode_captions` call per training step for the batch of `shared_forward`'s `key`: D's and
        G's losses share it (`step_cached`)."""
        return self.step_cached(f"text_{key}", lambda: tuple(self.encode_captions(
            [(batch["tokens"], batch["lengths"]), (batch["wrong_tokens"], batch["wrong_lengths"])])))

    def forward(self, generator, conditioning, noise, training=True):
        """(images of every scale, {"maps": attention maps of each attention stage, "mu", "log_sigma"})."""
        words = conditioning["words"]
        mask = word_mask(conditioning["lengths"], tf.shape(words)[1])
        z, eps = self.split_noise(noise)
        images, maps, mu, log_sigma = generator((z, conditioning["sentence"], words, mask, eps[0]), training=training)
        return list(images), {"maps": list(maps), "mu": mu, "log_sigma": log_sigma}

    def attention_maps(self, conditioning, noise, use_ema=True):
        """(images of every scale, attention maps of each attention stage), as `generate` draws them."""
        noise = tf.convert_to_tensor(noise, tf.float32)
        images, extras = self.forward(self.generator_for(use_ema), conditioning, noise, training=False)
        return images, extras["maps"]

    def discriminator_loss(self, batch, noise, key="fake", texts=None):
        """`key`: the `shared_forward` pass of this batch (SD-GAN's second branch has its own);
        `texts`: its `step_conditioning`, when the caller has it."""
        text, wrong_text = texts or self.step_conditioning(batch, key)
        sentence = text["sentence"]
        fakes = [tf.stop_gradient(f) for f in self.shared_forward(text, noise, key)[0]]
        reals = [batch[f"image_{s}"] for s in self.image_sizes]
        return self.scale_discriminator_losses(reals, fakes, sentence, wrong_text["sentence"])

    def scale_discriminator_losses(self, reals, fakes, sentence, wrong_sentence):
        """(sum over scales, per-scale terms) of the D loss for one batch of real, generated
        images and their sentences.

        Each D encodes the real images once and scores that code against the matching and the
        mismatched sentence (upstream's `real_features = netD(real_imgs)` feeding `COND_DNET`
        twice): the same logits and gradients as two full passes over the reals, at one image
        encoder's cost. The unconditional logit depends on the code alone, so the mismatched
        pair's is the real pair's (it does not enter the averaged loss)."""
        losses = []
        for d, real_images, fake_images in zip(self.discriminator.discriminators, reals, fakes):
            code = d.encode(real_images, training=True)
            real = d.logits(code, sentence, training=True)
            wrong = (d.logits(code, wrong_sentence, training=True, unconditional=False), real[1])
            fake = d((fake_images, sentence), training=True)
            losses.append(averaged_jcu_discriminator_loss(real, wrong, fake))
        return sum_over_scales(self.image_sizes, losses, "d_loss")

    def generator_loss(self, batch, noise):
        text = self.step_conditioning(batch)[0]
        fakes, extras = self.shared_forward(text, noise)
        return self.generator_objective(fakes, extras, text, batch["lengths"], batch["class_ids"])

    def image_codes(self, images):
        """Each scale's D image code (`StageDiscriminator.encode`) of `images` (every scale)."""
        return [d.encode(x, training=True) for d, x in zip(self.discriminator.discriminators, images)]

    def generator_objective(self, fakes, extras, text, lengths, class_ids, codes=None):
        """(G loss, terms) of generated images `fakes` (every scale) made from `text` (the batch's
        conditioning) with `forward`'s `extras`: adversarial over scales + DAMSM + KL. `codes`: the
        fakes' `image_codes`, when the caller has them (SD-GAN's contrastive term uses the last)."""
        words, sentence = text["words"], text["sentence"]
        codes = self.image_codes(fakes) if codes is None else codes
        outputs = [d.logits(c, sentence, training=True) for d, c in zip(self.discriminator.discriminators, codes)]
        total, terms = sum_over_scales(self.image_sizes, [jcu_generator_loss(out)[0] for out in outputs], "g_loss")
        if self.image_encoder is None:  # a converted generation-only run: builds, never trains
            terms["damsm"] = tf.zeros(())
        else:
            regions, code = self.image_encoder(fakes[-1], training=False)
            damsm = damsm_terms(regions, code, words, sentence, lengths, class_ids, self.gamma1,
                                self.gamma2, self.gamma3, self.aggregation)
            terms["damsm"] = tf.add_n([damsm[k] for k in LOSS_TERMS])
        terms["kl"] = conditioning_kl(extras["mu"], extras["log_sigma"])
        return total + self.damsm_weight * terms["damsm"] + self.kl_weight * terms["kl"], terms

    def get_config(self):
        return {**super().get_config(), "image_sizes": self.image_sizes, "damsm_weight": self.damsm_weight,
                "kl_weight": self.kl_weight, "gamma1": self.gamma1, "gamma2": self.gamma2, "gamma3": self.gamma3,
                "aggregation": self.aggregation}
