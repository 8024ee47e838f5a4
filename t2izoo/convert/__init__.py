"""Converting official PyTorch checkpoints: `state_dict.py` (arrays, layouts, one error for every
mismatch), `layers.py` (the shared layers); each family converts its own modules in its
`convert.py`; `python -m t2izoo.convert` writes a run directory."""
