"""`python -m t2izoo.recipes.stackgan`, the command users type; the recipe is
t2izoo/models/stackgan/recipe.py."""

if __name__ == "__main__":
    from t2izoo.utils import tf_logging

    tf_logging.quiet()  # before TensorFlow is imported

    from t2izoo.trainers.cli import run_recipe

    run_recipe("stackgan")
