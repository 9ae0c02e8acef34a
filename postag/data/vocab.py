"""Vocabularies: strings to ids for words, tags, characters, suffixes, affixes and lowercase forms,
and the batches of their words' records (``postag.data.records``)."""

from __future__ import annotations

import array
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import torch

from postag.data.batching import IGNORE_INDEX, Batch, Example, to_longest_word
from postag.data.corpus import Sentence
from postag.data import span_tags
from postag.data.features import affixes, suffix
from postag.data.tag_columns import DEFAULT_TAG_COLUMN, SAVED_LATER_DEFAULTS, tag_column_names
from postag.data.records import (
    AFFIXES_FROM, CHARS_FROM, NORMS_FROM, PAD_ID, RECORD, RECORD_FIELDS, RECORD_WIDTH, UNK_ID, word_record,
)

PAD = "<pad>"
UNK = "<unk>"

# Where a checkpoint keeps the vocabularies, so that a checkpoint alone can evaluate and tag.
CHECKPOINT_KEY = "postag_vocabularies"
# Checkpoints written before that key: the data module's state, under its class name.
LEGACY_CHECKPOINT_KEYS = ("CoNLL2000DataModule",)


class Vocabulary:
    """A list of strings and its inverse; for words, id 0 is padding and id 1 unknown."""

    def __init__(self, items: Sequence[str], unk: bool):
        self.itos = list(items)
        self.stoi = {s: i for i, s in enumerate(self.itos)}
        self.has_unk = unk

    @classmethod
    def for_words(cls, sentences: Iterable[Sentence], min_freq: int = 1) -> Vocabulary:
        counts = Counter(w for words, _ in sentences for w in words)
        kept = sorted((w for w, c in counts.items() if c >= min_freq), key=lambda w: (-counts[w], w))
        return cls([PAD, UNK, *kept], unk=True)

    @classmethod
    def for_norms(cls, sentences: Iterable[Sentence], min_freq: int = 1) -> Vocabulary:
        counts = Counter(w.lower() for words, _ in sentences for w in words)
        return cls([PAD, UNK, *sorted(w for w, c in counts.items() if c >= min_freq)], unk=True)

    @classmethod
    def for_chars(cls, sentences: Iterable[Sentence]) -> Vocabulary:
        # The training characters, whatever the script; any other character maps to UNK_ID.
        return cls([PAD, UNK, *sorted({c for words, _ in sentences for w in words for c in w})], unk=True)

    @classmethod
    def for_suffixes(cls, sentences: Iterable[Sentence]) -> Vocabulary:
        return cls([PAD, UNK, *sorted({suffix(w) for words, _ in sentences for w in words})], unk=True)

    @classmethod
    def for_affixes(cls, sentences: Iterable[Sentence]) -> Vocabulary:
        found = {a for words, _ in sentences for w in set(words) for a in affixes(w) if a is not None}
        return cls([PAD, UNK, *sorted(found)], unk=True)

    @classmethod
    def for_tags(cls, sentences: Iterable[Sentence]) -> Vocabulary:
        return cls(sorted({t for _, tags in sentences for t in tags}), unk=False)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, item: str) -> bool:
        return item in self.stoi

    def encode(self, items: Sequence[str]) -> list[int]:
        if self.has_unk:
            return [self.stoi.get(s, UNK_ID) for s in items]
        return [self.stoi[s] for s in items]


VOCABULARIES = ("words", "tags", "chars", "suffixes", "affixes", "norms")
# Vocabularies that checkpoints from before them lack; those load with none (every id unknown),
# which the models they trained never read.
ADDED_LATER = ("affixes", "norms")


def differing_vocabularies(then: dict, now: dict) -> list[str]:
    """Names of the vocabularies in which two ``Vocabularies.state_dict()`` differ; ``then`` may be
    an older checkpoint's state, whose model does not read a vocabulary it lacks (or has empty)."""
    return [
        name for name in VOCABULARIES
        if now[name] != then.get(name) and not (name in ADDED_LATER and not then.get(name))
    ]


@dataclass
class Vocabularies:
    """Everything that maps text to ids; saved in checkpoints.

    ``conllu_column``: where these tags go when tagged text is written as CoNLL-U
    (``upos`` for a model trained on UPOS, else ``xpos``: language-specific tags).
    """

    words: Vocabulary
    tags: Vocabulary
    chars: Vocabulary
    suffixes: Vocabulary
    affixes: Vocabulary
    norms: Vocabulary
    conllu_column: str = DEFAULT_TAG_COLUMN
    # Record fields left at padding (0), unworked: those the model reading the records never looks at
    unread: frozenset[str] = frozenset()
    # The training tags' spans, if any, all open with B (postag.data.span_tags.spans_open_with_b):
    # the tagger then keeps its tags so (postag.network.span_decoder)
    spans_open_with_b: bool = False

    @classmethod
    def from_training(
        cls, train: list[Sentence], train_split: list[Sentence], min_freq: int, conllu_column: str = DEFAULT_TAG_COLUMN
    ) -> Vocabularies:
        # Words, characters and suffixes from the sentences trained on; the tag set
        # (the label space) from the whole training file.
        return cls(
            Vocabulary.for_words(train, min_freq),
            Vocabulary.for_tags(train_split),
            Vocabulary.for_chars(train),
            Vocabulary.for_suffixes(train),
            Vocabulary.for_affixes(train),
            Vocabulary.for_norms(train, min_freq),
            conllu_column,
            spans_open_with_b=span_tags.spans_open_with_b([tags for _, tags in train_split], len(tag_column_names(conllu_column))),
        )

    def state_dict(self) -> dict:
        return {
            **{name: list(getattr(self, name).itos) for name in VOCABULARIES},
            "conllu_column": self.conllu_column,
            "spans_open_with_b": self.spans_open_with_b,
        }

    @classmethod
    def from_state_dict(cls, state: dict) -> Vocabularies:
        state = {**SAVED_LATER_DEFAULTS, **state}
        return cls(
            *(
                Vocabulary(state[name] if name in state or name not in ADDED_LATER else [], unk=name != "tags")
                for name in VOCABULARIES
            ),
            conllu_column=state["conllu_column"],
            spans_open_with_b=state["spans_open_with_b"],
        )

    def for_fields(self, fields: Iterable[str]) -> Vocabularies:
        """The same vocabularies, working out only ``fields`` of RECORD_FIELDS in each word's record,
        the rest left at padding: a model that reads no affixes, say, is spared finding them for
        every new word it tags."""
        fields = set(fields)
        if not fields <= set(RECORD_FIELDS) or "words" not in fields:
            known = ", ".join(RECORD_FIELDS)
            raise ValueError(f"fields must include 'words' and come from {known}, got {sorted(fields)}")
        return replace(self, unread=frozenset(RECORD_FIELDS) - fields)  # with a cache of its own

    @property
    def unseen_tag_id(self) -> int:
        """The label of a gold tag the training data never had: one past the model's tags, so
        it is never predicted and always scored as wrong."""
        return len(self.tags)

    def tag_ids(self, tags: Sequence[str]) -> list[int]:
        return [self.tags.stoi.get(t, self.unseen_tag_id) for t in tags]

    # Encoded words kept for reuse; emptied when full, so that no input can grow it without bound.
    WORD_CACHE_SIZE = 1 << 17

    def __post_init__(self) -> None:
        # word -> its record (RECORD). Text repeats its words (the CoNLL-2000 test split's 47,377
        # tokens are 8,116 distinct words), and working the features out for every token took
        # about half the time of tagging with model=pos.
        self._word_records: dict[str, bytes] = {}
        self._lookups = {name: getattr(self, name).stoi for name in VOCABULARIES}

    def _word_record(self, word: str) -> bytes:
        record = self._word_records.get(word)
        if record is None:
            if len(self._word_records) >= self.WORD_CACHE_SIZE:
                self._word_records.clear()
            values = word_record(word, self._lookups, self.unread)
            record = self._word_records[word] = array.array("q", values).tobytes()
        return record

    def _records(self, words: Sequence[str]) -> torch.Tensor:
        """(len(words), RECORD_WIDTH): the records of ``words``, in order."""
        if not words:
            return torch.empty((0, RECORD_WIDTH), dtype=torch.long)
        # The records joined and read as one tensor: converting every number from Python on
        # its own took over ten times as long.
        buffer = bytearray(b"".join(map(self._word_record, words)))
        return torch.frombuffer(buffer, dtype=torch.long).view(len(words), RECORD_WIDTH)

    def encode(self, words: Sequence[str], tags: Sequence[str] | None = None) -> Example:
        """One sentence; a tag the training data never had gets ``unseen_tag_id``."""
        records = self._records(words)  # (S, RECORD_WIDTH)
        return Example(
            words=records[:, RECORD["words"]],
            tags=torch.tensor(self.tag_ids(tags) if tags is not None else [], dtype=torch.long),
            chars=records[:, CHARS_FROM:],
            shapes=records[:, RECORD["shapes"]],
            suffixes=records[:, RECORD["suffixes"]],
            affixes=records[:, AFFIXES_FROM:NORMS_FROM],
            norms=records[:, NORMS_FROM:CHARS_FROM],
        )

    def encode_batch(self, sentences: Sequence[Sequence[str]]) -> Batch:
        """The padded batch of untagged sentences: ``collate([self.encode(s) for s in sentences])``.

        Every word's record goes straight into its place in the batch, in one copy for the whole
        batch, rather than into a tensor per sentence that padding then copies again
        (docs/benchmarks.md).
        """
        if not sentences:
            raise ValueError("encode_batch needs at least one sentence")
        lengths = torch.tensor([len(words) for words in sentences])
        longest = int(lengths.max())
        mask = torch.arange(longest)[None, :] < lengths[:, None]  # (B, S)
        records = self._records([word for words in sentences for word in words])  # (N, RECORD_WIDTH)
        # Every field pads with 0 (PAD_ID, and shape 0); the records fill the real tokens in order.
        padded = records.new_full((len(sentences), longest, RECORD_WIDTH), PAD_ID)
        padded[mask] = records
        return Batch(
            tokens=padded[..., RECORD["words"]],
            labels=torch.full((len(sentences), longest), IGNORE_INDEX),
            mask=mask,
            chars=to_longest_word(padded[..., CHARS_FROM:]),
            shapes=padded[..., RECORD["shapes"]],
            suffixes=padded[..., RECORD["suffixes"]],
            affixes=padded[..., AFFIXES_FROM:NORMS_FROM],
            norms=padded[..., NORMS_FROM:CHARS_FROM],
        )


def vocabularies_from_checkpoint(checkpoint: dict, source: str = "checkpoint") -> Vocabularies:
    """The vocabularies a postag checkpoint carries (under CHECKPOINT_KEY, or a legacy key)."""
    state = next((checkpoint[k] for k in (CHECKPOINT_KEY, *LEGACY_CHECKPOINT_KEYS) if k in checkpoint), None)
    try:
        return Vocabularies.from_state_dict(state)
    except (KeyError, TypeError, AttributeError) as err:
        raise ValueError(f"{source}: no postag vocabulary in this checkpoint (is it a postag checkpoint?)") from err
