"""`python -m t2izoo.recipes.char_cnn_rnn`, the command users type; the recipe is
t2izoo/conditioning/char_cnn_rnn/pretrain.py."""

from t2izoo.trainers.cli import run_recipe

if __name__ == "__main__":
    run_recipe("char_cnn_rnn")
