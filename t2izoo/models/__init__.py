"""Model families: one folder per paper (config.py with presets and its registration, generator.py,
discriminator.py where the paper has its own, trainer.py, recipe.py). A family imports shared code
only (t2izoo.layers, losses, encoders, conditioning, trainers, data, metrics), never another family."""
