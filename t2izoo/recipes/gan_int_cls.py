"""`python -m t2izoo.recipes.gan_int_cls`, the command users type; the recipe is
t2izoo/models/gan_int_cls/recipe.py."""

from t2izoo.trainers.cli import run_recipe

if __name__ == "__main__":
    run_recipe("gan_int_cls")
