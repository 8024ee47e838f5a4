"""The stackgan family: see config.py, trainer.py and recipe.py."""
