"""The errors that bad data causes; each message names the file, the line and what was expected."""

from __future__ import annotations


class CorpusFormatError(ValueError):
    """A corpus file that does not follow its format; the message names file and line."""


class UnknownTagError(ValueError):
    """Evaluation data whose tags mostly fall outside the model's tag set (the wrong checkpoint for the data)."""


class DownloadError(RuntimeError):
    """The corpus could not be fetched or did not match its checksum."""
