"""postag: a hand-built Transformer encoder that tags text with parts of speech.

The package's rooms: ``postag.network`` (the exercise's layers and the tagging network),
``postag.data`` (corpora, vocabularies, batches), ``postag.training`` (the LightningModule, its
losses, callbacks, checkpoints and config checks), ``postag.analysis`` (reports, figures, views)
and ``postag.app`` (the ``Tagger`` API, the command line, the tokenizer).
"""

from postag.moved import install as _install_moved_modules

__version__ = "0.1.0"

_install_moved_modules()
