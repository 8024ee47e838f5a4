"""`python -m t2izoo.recipes.sdgan`, the command users type; the recipe is
t2izoo/models/sdgan/recipe.py."""

from t2izoo.trainers.cli import run_recipe

if __name__ == "__main__":
    run_recipe("sdgan")
