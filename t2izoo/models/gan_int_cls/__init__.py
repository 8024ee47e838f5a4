"""The gan_int_cls family: see config.py, trainer.py and recipe.py."""
