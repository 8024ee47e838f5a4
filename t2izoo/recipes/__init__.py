"""Entry points `python -m t2izoo.recipes.<name>`: one thin module per registered family, each
calling `t2izoo.trainers.cli.run_recipe(<name>)`. The recipes themselves live in the family
folders (t2izoo/models/<paper>/recipe.py, t2izoo/conditioning/<encoder>/pretrain.py)."""
