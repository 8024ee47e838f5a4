"""SISGAN (Dong et al., "Semantic Image Synthesis via Adversarial Learning", ICCV 2017):
text-guided image manipulation with an encoder-decoder generator."""
