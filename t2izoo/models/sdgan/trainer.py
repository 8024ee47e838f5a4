"""SD-GAN trainer: AttnGAN's objective on two weight-sharing (Siamese) branches + contrastive loss."""

import keras
import tensorflow as tf

from t2izoo.losses.contrastive import contrastive_loss
from t2izoo.trainers.damsm_gan import DamsmGanTrainer

PAIR_PREFIX = "pair_"


def pair_branch(batch: dict) -> dict:
    """The second Siamese branch's batch: the pipeline's `pair_*` keys without the prefix."""
    return {k[len(PAIR_PREFIX):]: v for k, v in batch.items() if k.startswith(PAIR_PREFIX)}


def _mean_terms(a: dict, b: dict) -> dict:
    return {k: (a[k] + b[k]) / 2.0 for k in a}


class SdGanTrainer(DamsmGanTrainer):
    """SD-GAN's alternating updates: each step runs two branches that share every G and D weight
    (the same generator and discriminator objects), one per caption of a pair (`pair_*` keys of
    the pipeline with `siamese_pairs`), with the same noise.

    D: the mean of the two branches' AttnGAN D losses (each branch has its own real images,
    sentence and mismatched sentence). G: the mean of the two branches' AttnGAN G objectives
    (adversarial + DAMSM + KL) + contrastive_weight * L_c, where L_c (`losses.contrastive`) runs
    on the last-scale discriminator's visual features (its 4x4 image code, averaged over space,
    L2-normalised with `contrastive_normalize`) of the two branches' generated images, y = 1 for
    captions of the same image. L_c trains G only (the issue's reading; the paper's D update is
    not specified).

    With `siamese=False`, or for a batch without `pair_*` keys (building, one-branch use), it is
    exactly `DamsmGanTrainer` (with SD-GAN's generator: the no-Siamese ablation).

    Args:
        generator: `SdGanGenerator`; discriminator, text_encoder, image_encoder and the AttnGAN
            loss settings: as `DamsmGanTrainer`.
        siamese: train on caption pairs with L_c.
        contrastive_weight, contrastive_margin, contrastive_alpha: weight, epsilon and alpha of L_c.
        contrastive_normalize: L2-normalise the features before the distance.

    Reference: Yin et al., SD-GAN, CVPR 2019, Sec. 3.2 (Siamese structure, Eq. 3) and Fig. 2.
    """

    def __init__(self, generator, discriminator, text_encoder, image_encoder, siamese=True, contrastive_weight=1.0,
                 contrastive_margin=1.0, contrastive_alpha=0.1, contrastive_normalize=True, **kwargs):
        super().__init__(generator, discriminator, text_encoder, image_encoder, **kwargs)
        self.siamese = siamese
        self.contrastive_weight = contrastive_weight
        self.contrastive_margin = contrastive_margin
        self.contrastive_alpha = contrastive_alpha
        self.contrastive_normalize = contrastive_normalize

    def loss_term_names(self):
        return super().loss_term_names() + (["contrastive"] if self.siamese else [])

    def _two_branches(self, batch):
        return self.siamese and f"{PAIR_PREFIX}tokens" in batch

    def visual_features(self, code):
        """[B, 8 ndf] features of the last-scale discriminator's image code (`image_codes(...)[-1]`,
        the code its adversarial logits are computed from), averaged over space."""
        features = keras.ops.mean(code, axis=(1, 2))
        if self.contrastive_normalize:
            features = features / keras.ops.sqrt(keras.ops.sum(keras.ops.square(features), -1, keepdims=True) + 1e-12)
        return features

    def branch_conditioning(self, batch):
        """[(text, mismatched text) of the first branch, the same of the second]: every caption of
        the step in one text-encoder call (`encode_captions`), once per step (`step_cached`)."""
        def encode():
            pair = pair_branch(batch)
            t = self.encode_captions([(b[f"{p}tokens"], b[f"{p}lengths"]) for b in (batch, pair)
                                      for p in ("", "wrong_")])
            return [(t[0], t[1]), (t[2], t[3])]
        return self.step_cached("text_branches", encode)

    def discriminator_loss(self, batch, noise):
        if not self._two_branches(batch):
            return super().discriminator_loss(batch, noise)
        texts = self.branch_conditioning(batch)
        loss_a, terms_a = super().discriminator_loss(batch, noise, texts=texts[0])
        loss_b, terms_b = super().discriminator_loss(pair_branch(batch), noise, key="pair", texts=texts[1])
        return (loss_a + loss_b) / 2.0, _mean_terms(terms_a, terms_b)

    def generator_loss(self, batch, noise):
        if not self._two_branches(batch):
            loss, terms = super().generator_loss(batch, noise)
            if self.siamese:
                terms["contrastive"] = tf.zeros(())
            return loss, terms
        pair = pair_branch(batch)
        last_codes, losses, terms = [], [], []
        for branch, key, (text, _) in zip((batch, pair), ("fake", "pair"), self.branch_conditioning(batch)):
            images, extras = self.shared_forward(text, noise, key)
            codes = self.image_codes(images)  # the adversarial terms' codes, the last also L_c's
            loss, branch_terms = self.generator_objective(images, extras, text, branch["lengths"], branch["class_ids"],
                                                          codes)
            last_codes.append(codes[-1])
            losses.append(loss)
            terms.append(branch_terms)
        merged = _mean_terms(*terms)
        merged["contrastive"] = contrastive_loss(self.visual_features(last_codes[0]), self.visual_features(last_codes[1]),
                                                 batch["pair_same"], self.contrastive_margin, self.contrastive_alpha)
        return (losses[0] + losses[1]) / 2.0 + self.contrastive_weight * merged["contrastive"], merged

    def get_config(self):
        return {**super().get_config(), "siamese": self.siamese, "contrastive_weight": self.contrastive_weight,
                "contrastive_margin": self.contrastive_margin, "contrastive_alpha": self.contrastive_alpha,
                "contrastive_normalize": self.contrastive_normalize}
