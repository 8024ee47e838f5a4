"""`python -m t2izoo.recipes.tagan`, the command users type; the recipe is
t2izoo/models/tagan/recipe.py."""

from t2izoo.trainers.cli import run_recipe

if __name__ == "__main__":
    run_recipe("tagan")
