"""Convert released official checkpoints into a run directory.

    python -m t2izoo.convert --from=attngan --checkpoint=bird_AttnGAN2.pth \
        --text_encoder=text_encoder200.pth --vocabulary=captions.pickle --preset=cub --out=runs/attngan_cub_official \
        [--image_encoder=image_encoder200.pth]     # with it, the run also trains (DAMSM loss)
    python -m t2izoo.convert --from=stackgan_v2 --checkpoint=netG_210000.pth \
        --embeddings=birds/test/char-CNN-RNN-embeddings.pickle --preset=cub --out=runs/stackgan_v2_cub_official
    python -m t2izoo.convert --from=damsm --text_encoder=text_encoder200.pth --image_encoder=image_encoder200.pth \
        --vocabulary=captions.pickle --preset=cub --out=runs/damsm_cub_official

The run directory is an ordinary one: `t2izoo.generate`, `t2izoo.evaluate` and `t2izoo.export` use
it unchanged. `--override key=value` sets config fields (e.g. the widths of a checkpoint trained
with another configuration). Reading .pth files needs torch (`pip install 't2izoo[convert]'`).
A checkpoint of another model or preset, an unreadable file or a vocabulary of the wrong size
stops with one line naming the file and what does not match; nothing is written then.
"""

from __future__ import annotations

if __name__ == "__main__":  # first, before TensorFlow is imported: keep its start-up logging quiet
    from t2izoo.utils import tf_logging

    tf_logging.quiet()

import inspect

from absl import app, flags

from t2izoo import registry
from t2izoo.errors import ConfigError
from t2izoo.utils.cli import parse_flags, run_main

FLAGS = flags.FLAGS


def converters() -> dict:
    return {f.name: f for f in registry.families() if f.converter}


def convert(family: str, out: str, preset: str, overrides=(), **files) -> str:
    """Converts with family `family`'s registered converter; returns the run directory."""
    known = converters()
    if family not in known:
        raise ConfigError(f"--from={family}: no converter; choose one of {', '.join(sorted(known))}")
    if preset not in known[family].presets:
        raise ConfigError(f"--preset={preset}: choose one of {', '.join(known[family].presets)}")
    converter = registry.load_object(known[family].converter)
    accepted = inspect.signature(converter).parameters
    unused = [name for name in files if name not in accepted]
    if unused:
        raise ConfigError(f"--from={family} takes no {', '.join('--' + n for n in unused)}")
    return converter(out, preset, list(overrides), **files)


def main(argv):
    del argv

    def _run():
        files = {k: getattr(FLAGS, k) for k in ("checkpoint", "text_encoder", "vocabulary", "image_encoder",
                                                "embeddings")
                 if getattr(FLAGS, k)}
        path = convert(getattr(FLAGS, "from"), FLAGS.out, FLAGS.preset, FLAGS.override, **files)
        print(f"wrote {path}: python -m t2izoo.generate --model_dir={path} --caption=\"...\"")

    run_main(_run)


if __name__ == "__main__":
    flags.DEFINE_string("from", None, "Family of the official checkpoint (e.g. attngan).", required=True)
    flags.DEFINE_string("checkpoint", None, "The official generator's .pth file (--from=damsm: none; it takes "
                        "--text_encoder and --image_encoder).")
    flags.DEFINE_string("text_encoder", None, "The official text encoder's .pth file (AttnGAN: DAMSM RNN_ENCODER).")
    flags.DEFINE_string("vocabulary", None, "The official vocabulary (AttnGAN: captions.pickle).")
    flags.DEFINE_string("image_encoder", None, "The official DAMSM image encoder's .pth file (AttnGAN, optional: "
                        "with it the converted run also trains).")
    flags.DEFINE_string("embeddings", None, "StackGAN-v2: the official char-CNN-RNN-embeddings.pickle (its split's "
                        "filenames.pickle beside it, captions in ../text/); comma-separated for several splits.")
    flags.DEFINE_string("preset", "cub", "The family's preset the checkpoint was trained with.")
    flags.DEFINE_string("out", None, "The run directory to write (new or empty).", required=True)
    flags.DEFINE_multi_string("override", [], "key=value config overrides (repeatable).")
    app.run(main, flags_parser=parse_flags)
