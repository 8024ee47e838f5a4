"""`python -m t2izoo.recipes.char_cnn_rnn`, the command users type; the recipe is
t2izoo/conditioning/char_cnn_rnn/pretrain.py."""

if __name__ == "__main__":
    from t2izoo.utils import tf_logging

    tf_logging.quiet()  # before TensorFlow is imported

    from t2izoo.trainers.cli import run_recipe

    run_recipe("char_cnn_rnn")
