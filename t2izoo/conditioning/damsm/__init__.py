"""See conditioner.py (the frozen encoder a GAN uses) and pretrain.py (how it is trained)."""
