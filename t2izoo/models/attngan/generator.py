"""AttnGAN generator: StackGAN++'s initial stage, then word-attention refinement stages
(t2izoo/layers/attention_tree_generator.py, shared with SD-GAN)."""

from t2izoo.layers.attention_tree_generator import AttentionTreeGenerator


class AttnGanGenerator(AttentionTreeGenerator):
    """AttnGAN G, exactly the shared `AttentionTreeGenerator` (taoxugit/AttnGAN code/model.py
    `G_NET`): CA(sentence) + z -> F_0 -> image 0; F_i(h, word attention) -> image i.

    Args and call: see `AttentionTreeGenerator`.

    Example:
        >>> g = AttnGanGenerator(base_size=16, num_stages=2, ngf=4, condition_dim=8, num_residual=1)

    Reference: Xu et al., AttnGAN, CVPR 2018, Sec. 3.1.
    """
