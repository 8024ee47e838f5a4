"""The stackgan_v2 family: see config.py, trainer.py and recipe.py."""
