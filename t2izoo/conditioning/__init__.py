"""Text conditioning: one folder per frozen text encoder kind (its pretraining config, trainer and
recipe, and its `Conditioner`). Families name the kind they use (`Family.conditioner`)."""


def conditioner_class(kind: str):
    """The `Conditioner` subclass of encoder kind `kind` (`char_cnn_rnn`, `damsm`)."""
    from t2izoo import registry

    family = registry.get(kind)
    if not family.conditioner_class:
        raise ValueError(f"{kind!r} is not a text encoder kind")
    return registry.load_object(family.conditioner_class)
