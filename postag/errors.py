"""The errors a user can cause; each message says in one line what was wrong and where
(postag.app.console turns them into the command line's one-line reports)."""

from __future__ import annotations


class ConfigError(ValueError):
    """A config value that cannot work; the message names the key, the value and what is expected."""


class CorpusFormatError(ValueError):
    """A corpus file that does not follow its format; the message names file and line."""


class UnknownTagError(ValueError):
    """Evaluation data whose tags mostly fall outside the model's tag set (the wrong checkpoint for the data)."""


class DownloadError(RuntimeError):
    """The corpus could not be fetched or did not match its checksum."""


class CheckpointError(ValueError):
    """A file that is not a usable postag checkpoint; the message names it."""


class InputError(ValueError):
    """Input text that `postag tag` or `postag explain` cannot tag; the message names the source and line."""


class SequenceTooLongError(ValueError):
    """A sentence is longer than the positional embeddings cover."""
