"""Corpora, vocabularies and batches: one job a module (see each module's docstring).

Names are imported from their modules when first used, so that the modules that need no torch
(``features``, ``records``, ``lemmas``) can be imported where torch is not installed.
"""

from __future__ import annotations

import importlib

# Imported now: the function ``download`` shares its name with its module, which would otherwise
# take the name once any code imports the module. The module needs no torch.
from postag.data.download import BASE_URL, DATA_DIR_ENV, SPLITS, default_data_dir, download

_HOMES = {
    "batching": (
        "IGNORE_INDEX", "PAD_ID", "UNK_ID", "Batch", "Example", "LengthBucketSampler", "WordDropoutCollate", "collate",
        "padding_share", "word_counts",
    ),
    "conllu": ("ConlluReader",),
    "corpus": ("ColumnReader", "CoNLL2000Reader", "Sentence", "read_conll"),
    "datamodule": ("TaggingDataModule",),
    "formats": ("FORMATS", "make_reader"),
    "features": (
        "MAX_WORD_CHARS", "N_AFFIXES", "N_NORMS", "N_SHAPES", "affixes", "clip_word", "norms", "suffix", "word_shape",
    ),
    "vocab": ("CHECKPOINT_KEY", "Vocabularies", "Vocabulary", "vocabularies_from_checkpoint"),
}
_ERRORS = ("CorpusFormatError", "DownloadError", "UnknownTagError")
_MODULE_OF = {name: module for module, names in _HOMES.items() for name in names}
__all__ = sorted([*_MODULE_OF, *_ERRORS, "BASE_URL", "DATA_DIR_ENV", "SPLITS", "default_data_dir", "download"])


def __getattr__(name: str):
    if name in _ERRORS:
        return getattr(importlib.import_module("postag.errors"), name)
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'postag.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"postag.data.{_MODULE_OF[name]}"), name)
    globals()[name] = value  # looked up once
    return value
