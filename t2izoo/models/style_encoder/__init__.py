"""Reed et al.'s style encoder (ICML 2016, Sec. 4.4): inverts a trained text-to-image GAN's noise
for text-guided manipulation, x -> G(S(x), phi(t'))."""
