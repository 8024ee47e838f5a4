"""The sdgan family: see config.py, trainer.py and recipe.py."""
