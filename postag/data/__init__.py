"""Corpora, vocabularies and batches: one job a module (see each module's docstring)."""

from postag.data.batching import (
    IGNORE_INDEX, PAD_ID, UNK_ID, Batch, Example, LengthBucketSampler, WordDropoutCollate, collate, padding_share,
    word_counts,
)
from postag.data.conllu import ConlluReader
from postag.data.corpus import ColumnReader, CoNLL2000Reader, Sentence, read_conll
from postag.data.datamodule import TaggingDataModule
from postag.data.download import BASE_URL, DATA_DIR_ENV, SPLITS, default_data_dir, download
from postag.data.formats import FORMATS, make_reader
from postag.errors import CorpusFormatError, DownloadError, UnknownTagError
from postag.data.features import (
    MAX_WORD_CHARS, N_AFFIXES, N_NORMS, N_SHAPES, affixes, clip_word, norms, suffix, word_shape,
)
from postag.data.vocab import CHECKPOINT_KEY, Vocabularies, Vocabulary, vocabularies_from_checkpoint
