"""`python -m t2izoo.recipes.stackgan_v2`, the command users type; the recipe is
t2izoo/models/stackgan_v2/recipe.py."""

from t2izoo.trainers.cli import run_recipe

if __name__ == "__main__":
    run_recipe("stackgan_v2")
