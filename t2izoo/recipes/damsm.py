"""`python -m t2izoo.recipes.damsm`, the command users type; the recipe is
t2izoo/conditioning/damsm/pretrain.py."""

from t2izoo.trainers.cli import run_recipe

if __name__ == "__main__":
    run_recipe("damsm")
