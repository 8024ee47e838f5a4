"""`python -m t2izoo.recipes.style_encoder --gan_dir=RUN`, the command users type; the recipe is
t2izoo/models/style_encoder/recipe.py."""

from t2izoo.trainers.cli import run_recipe

if __name__ == "__main__":
    run_recipe("style_encoder")
