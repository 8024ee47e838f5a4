"""TAGAN (Nam et al., "Text-Adaptive Generative Adversarial Networks: Manipulating Images with
Natural Language", NeurIPS 2018): text-guided image manipulation with a text-adaptive
discriminator of word-level local discriminators."""
