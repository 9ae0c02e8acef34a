"""CoNLL-2000: reading, downloading, vocabularies, batching.

The corpus is read directly (no torchtext): one token a line as ``WORD POS CHUNK``,
a blank line after every sentence, plain text or gzip.
"""

from __future__ import annotations

import array
import gzip
import hashlib
import os
import random
import tempfile
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import NamedTuple

import lightning as L
import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader, DistributedSampler

PAD = "<pad>"
UNK = "<unk>"
PAD_ID = 0
UNK_ID = 1
IGNORE_INDEX = -100  # label of padded positions; cross-entropy and the metrics skip it

BASE_URL = "https://www.clips.uantwerpen.be/conll2000/chunking/"
# MD5 of the official archives, as torchtext's CoNLL2000Chunking dataset checked them.
SPLITS = {
    "train": ("train.txt.gz", "6969c2903a1f19a83569db643e43dcc8"),
    "test": ("test.txt.gz", "a916e1c2d83eb3004b38fc6fcd628939"),
}
DATA_DIR_ENV = "POSTAG_DATA_DIR"

Sentence = tuple[list[str], list[str]]  # (words, tags)


class CorpusFormatError(ValueError):
    """A CoNLL file that does not follow the format; the message names file and line."""


class UnknownTagError(ValueError):
    """Evaluation data holds a tag the training split never had."""


class DownloadError(RuntimeError):
    """The corpus could not be fetched or did not match its checksum."""


def default_data_dir() -> Path:
    """``$POSTAG_DATA_DIR`` when set, else ``data/`` in the project."""
    env = os.environ.get(DATA_DIR_ENV)
    return Path(env) if env else Path(__file__).resolve().parent.parent / "data"


def _open_text(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def read_conll(path: str | os.PathLike) -> list[Sentence]:
    """Read ``WORD POS CHUNK`` lines into (words, tags) sentences.

    Raises CorpusFormatError naming the file, the line number and the line when a
    non-blank line does not have exactly three space-separated columns, or when
    the file holds no sentence.
    """
    path = Path(path)
    sentences: list[Sentence] = []
    words: list[str] = []
    tags: list[str] = []
    line_no = 0
    try:
        with _open_text(path) as handle:
            for line_no, raw in enumerate(handle, start=1):
                line = raw.rstrip("\r\n")
                if not line.strip():
                    if words:
                        sentences.append((words, tags))
                        words, tags = [], []
                    continue
                columns = line.split()
                if len(columns) != 3:
                    raise CorpusFormatError(
                        f"{path}:{line_no}: expected 3 columns 'WORD POS CHUNK', "
                        f"found {len(columns)}: {line!r}"
                    )
                words.append(columns[0])
                tags.append(columns[1])
    except UnicodeDecodeError as err:
        raise CorpusFormatError(f"{path}:{line_no + 1}: not UTF-8 text ({err.reason})") from err
    except (gzip.BadGzipFile, EOFError) as err:
        raise CorpusFormatError(f"{path}: not a complete gzip file ({err})") from err
    if words:  # last sentence without a trailing blank line
        sentences.append((words, tags))
    if not sentences:
        raise CorpusFormatError(f"{path}: no sentences found (expected lines 'WORD POS CHUNK')")
    return sentences


def md5sum(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(url: str, target: Path, md5: str | None, timeout: float = 60.0) -> Path:
    """Fetch ``url`` to ``target`` through a temporary file in the same directory.

    The file appears under its final name only once complete and, when ``md5`` is
    given, matching it; on any failure nothing is left behind.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            for chunk in iter(lambda: response.read(1 << 16), b""):
                out.write(chunk)
        if md5 is not None:
            actual = md5sum(tmp)
            if actual != md5:
                raise DownloadError(f"checksum mismatch for {url}: expected MD5 {md5}, got {actual}")
        os.replace(tmp, target)
    except (urllib.error.URLError, OSError) as err:
        raise DownloadError(
            f"could not download {url} into {target.parent} ({err}). Without internet access, "
            f"put {target.name} there yourself or set {DATA_DIR_ENV} to a directory holding "
            f"train.txt(.gz) and test.txt(.gz)"
        ) from err
    finally:
        tmp.unlink(missing_ok=True)
    return target


def find_split(data_dir: Path, split: str) -> Path | None:
    """The split's file in ``data_dir``: ``{split}.txt.gz`` or ``{split}.txt``."""
    for name in (f"{split}.txt.gz", f"{split}.txt"):
        if (data_dir / name).is_file():
            return data_dir / name
    return None


MAX_WORD_CHARS = 20  # longer words keep their first 10 and last 10 characters
SUFFIX_LEN = 3
CAPITALISATION = ("lower", "initial", "upper", "mixed", "none")
N_SHAPES = 1 + len(CAPITALISATION) * 2 * 2  # padding, then capitalisation x digit x hyphen


def suffix(word: str) -> str:
    return word[-SUFFIX_LEN:].lower()


def word_shape(word: str) -> int:
    """Id in [1, N_SHAPES) from capitalisation, digits and hyphens; 0 is padding."""
    letters = [c for c in word if c.isalpha()]
    if not letters:
        cap = "none"
    elif all(c.islower() for c in letters):
        cap = "lower"
    elif all(c.isupper() for c in letters):
        cap = "upper"
    elif letters[0].isupper() and all(c.islower() for c in letters[1:]):
        cap = "initial"
    else:
        cap = "mixed"
    has_digit = any(c.isdigit() for c in word)
    return 1 + CAPITALISATION.index(cap) * 4 + 2 * has_digit + ("-" in word)


def clip_word(word: str) -> str:
    half = MAX_WORD_CHARS // 2
    return word if len(word) <= MAX_WORD_CHARS else word[:half] + word[-half:]


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
    def for_chars(cls, sentences: Iterable[Sentence]) -> Vocabulary:
        return cls([PAD, UNK, *sorted({c for words, _ in sentences for w in words for c in w})], unk=True)

    @classmethod
    def for_suffixes(cls, sentences: Iterable[Sentence]) -> Vocabulary:
        return cls([PAD, UNK, *sorted({suffix(w) for words, _ in sentences for w in words})], unk=True)

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


class Example(NamedTuple):
    """One encoded sentence, as tensors made once so that batching only copies them.

    Lists are accepted too (``collate`` converts them), which keeps hand-made examples short.
    """

    words: torch.Tensor  # (S,) word ids
    tags: torch.Tensor  # (S,) tag ids; empty when the sentence has no tags
    chars: torch.Tensor  # (S, W) character ids of each word, PAD_ID after its end (W = MAX_WORD_CHARS once encoded)
    shapes: torch.Tensor  # (S,) word_shape of each word
    suffixes: torch.Tensor  # (S,) suffix ids


def _as_long(values) -> torch.Tensor:
    return values if isinstance(values, torch.Tensor) else torch.tensor(values, dtype=torch.long)


def _char_matrix(chars, width: int = 0) -> torch.Tensor:
    """(S, W) from a tensor, or from a list of per-word id lists padded with PAD_ID to at
    least ``width`` columns (encoded sentences all get MAX_WORD_CHARS, so batching needs no re-padding)."""
    if isinstance(chars, torch.Tensor):
        return chars
    width = max(width, max((len(c) for c in chars), default=0))
    return torch.tensor([list(c) + [PAD_ID] * (width - len(c)) for c in chars], dtype=torch.long).view(len(chars), width)


@dataclass
class Batch:
    tokens: torch.Tensor  # (B, S) word ids, PAD_ID on padding
    labels: torch.Tensor  # (B, S) tag ids, IGNORE_INDEX on padding
    mask: torch.Tensor  # (B, S) bool, True on real tokens
    chars: torch.Tensor  # (B, S, W) character ids, PAD_ID on padding
    shapes: torch.Tensor  # (B, S) word-shape ids, 0 on padding
    suffixes: torch.Tensor  # (B, S) suffix ids, PAD_ID on padding

    def to(self, device) -> Batch:
        return Batch(*(getattr(self, f.name).to(device) for f in fields(self)))


def _to_longest_word(chars: torch.Tensor) -> torch.Tensor:
    """(B, S, width) -> (B, S, W), W the longest word's length in the batch (at least 1).

    The convolutions need not run over columns where no word has a character.
    """
    columns = (chars != PAD_ID).flatten(0, 1).any(dim=0)  # (width,) True where some word has a character
    widest = int(columns.nonzero().max()) + 1 if bool(columns.any()) else 1
    return chars[:, :, :widest]


def collate(examples: Sequence[Example]) -> Batch:
    """Pad a list of examples to the longest sentence (and longest word) in the batch."""
    lengths = torch.tensor([len(e.words) for e in examples])
    longest = int(lengths.max())
    char_rows = [_char_matrix(e.chars) for e in examples]
    width = max(1, max(c.size(1) for c in char_rows))
    # Rows of one width stack in one call; hand-made examples of other widths are padded first.
    char_rows = [c if c.size(1) == width else F.pad(c, (0, width - c.size(1)), value=PAD_ID) for c in char_rows]
    chars = _to_longest_word(pad_sequence(char_rows, batch_first=True, padding_value=PAD_ID))  # (B, S, W)

    def padded(field: str, fill: int) -> torch.Tensor:
        rows = [_as_long(getattr(example, field)) for example in examples]
        out = pad_sequence(rows, batch_first=True, padding_value=fill)  # (B, longest of these rows)
        # Unlabelled sentences have empty tag rows: pad them out to the sentence length too.
        return out if out.size(1) == longest else F.pad(out, (0, longest - out.size(1)), value=fill)

    return Batch(
        tokens=padded("words", PAD_ID),
        labels=padded("tags", IGNORE_INDEX),
        mask=torch.arange(longest)[None, :] < lengths[:, None],  # from lengths, not from token ids
        chars=chars,
        shapes=padded("shapes", 0),
        suffixes=padded("suffixes", PAD_ID),
    )


@dataclass
class Vocabularies:
    """Everything that maps text to ids; saved in checkpoints."""

    words: Vocabulary
    tags: Vocabulary
    chars: Vocabulary
    suffixes: Vocabulary

    @classmethod
    def from_training(cls, train: list[Sentence], train_split: list[Sentence], min_freq: int) -> Vocabularies:
        # Words, characters and suffixes from the sentences trained on; the tag set
        # (the label space) from the whole training file.
        return cls(
            Vocabulary.for_words(train, min_freq),
            Vocabulary.for_tags(train_split),
            Vocabulary.for_chars(train),
            Vocabulary.for_suffixes(train),
        )

    def state_dict(self) -> dict:
        return {f.name: list(getattr(self, f.name).itos) for f in fields(self)}

    @classmethod
    def from_state_dict(cls, state: dict) -> Vocabularies:
        return cls(
            Vocabulary(state["words"], unk=True),
            Vocabulary(state["tags"], unk=False),
            Vocabulary(state["chars"], unk=True),
            Vocabulary(state["suffixes"], unk=True),
        )

    # Encoded words kept for reuse; emptied when full, so that no input can grow it without bound.
    WORD_CACHE_SIZE = 1 << 17

    def __post_init__(self) -> None:
        # word -> its record: int64 word id, shape, suffix id, then MAX_WORD_CHARS character ids.
        # Text repeats its words (the test split's 47,377 tokens are 8,116 distinct words), and
        # working the features out for every token took about half the time of tagging with model=pos.
        self._word_records: dict[str, bytes] = {}

    def _word_record(self, word: str) -> bytes:
        record = self._word_records.get(word)
        if record is None:
            if len(self._word_records) >= self.WORD_CACHE_SIZE:
                self._word_records.clear()
            chars = self.chars.encode(clip_word(word))
            values = [
                self.words.encode([word])[0],
                word_shape(word),
                self.suffixes.encode([suffix(word)])[0],
                *chars,
                *[PAD_ID] * (MAX_WORD_CHARS - len(chars)),
            ]
            record = self._word_records[word] = array.array("q", values).tobytes()
        return record

    def encode_batch(self, sentences: Sequence[Sequence[str]]) -> Batch:
        """The padded batch of untagged sentences: ``collate([self.encode(s) for s in sentences])``.

        Every word's record goes straight into its place in the batch, in one copy for the whole
        batch, rather than into a tensor per sentence that padding then copies again: the Tagger
        tags the test split with model=pos about 9% faster so (docs/benchmarks.md).
        """
        if not sentences:
            raise ValueError("encode_batch needs at least one sentence")
        lengths = torch.tensor([len(words) for words in sentences])
        longest = int(lengths.max())
        mask = torch.arange(longest)[None, :] < lengths[:, None]  # (B, S)
        records = self._records([word for words in sentences for word in words])  # (N, 3 + MAX_WORD_CHARS)
        # Every field pads with 0 (PAD_ID, and shape 0); the records fill the real tokens in order.
        padded = records.new_full((len(sentences), longest, records.size(1)), PAD_ID)
        padded[mask] = records
        return Batch(
            tokens=padded[..., 0],
            labels=torch.full((len(sentences), longest), IGNORE_INDEX),
            mask=mask,
            chars=_to_longest_word(padded[..., 3:]),
            shapes=padded[..., 1],
            suffixes=padded[..., 2],
        )

    def _records(self, words: Sequence[str]) -> torch.Tensor:
        """(len(words), 3 + MAX_WORD_CHARS): word id, shape, suffix id and characters of each word."""
        if not words:
            return torch.empty((0, 3 + MAX_WORD_CHARS), dtype=torch.long)
        # The records joined and read as one tensor: converting every number from Python on
        # its own took over ten times as long.
        buffer = bytearray(b"".join(map(self._word_record, words)))
        return torch.frombuffer(buffer, dtype=torch.long).view(len(words), 3 + MAX_WORD_CHARS)

    def encode(self, words: Sequence[str], tags: Sequence[str] | None = None) -> Example:
        records = self._records(words)  # (S, 3 + MAX_WORD_CHARS)
        return Example(
            words=records[:, 0],
            tags=_as_long(self.tags.encode(tags) if tags is not None else []),
            chars=records[:, 3:],
            shapes=records[:, 1],
            suffixes=records[:, 2],
        )


class WordDropoutCollate:
    """``collate`` that replaces real training tokens by ``<unk>`` (word dropout).

    Without it, ``<unk>`` never occurs in training (every training word is in the
    vocabulary), so the model has not learned what to do with unseen words.
    Each token is replaced with probability ``p``; with ``rare_alpha`` > 0 and the
    training ``counts`` of each word id, also with probability alpha / (alpha + count),
    so that ``<unk>`` is learned mostly from rare words, which are what unseen words resemble.
    """

    def __init__(self, p: float, rare_alpha: float = 0.0, counts: torch.Tensor | None = None):
        if rare_alpha > 0 and counts is None:
            raise ValueError("rare-word dropout needs the training count of every word id")
        self.p = p
        # (V,) probability of replacing each word id; unused ids (count 0) are never seen here
        self.rare_p = rare_alpha / (rare_alpha + counts.double().clamp_min(1)) if rare_alpha > 0 else None

    def __call__(self, examples: Sequence[Example]) -> Batch:
        batch = collate(examples)
        if self.rare_p is not None:
            keep = (1.0 - self.p) * (1.0 - self.rare_p[batch.tokens])  # (B, S)
            drop = (torch.rand(batch.tokens.shape, dtype=torch.double) >= keep) & batch.mask
        elif self.p > 0:
            drop = (torch.rand(batch.tokens.shape) < self.p) & batch.mask
        else:
            return batch
        batch.tokens = batch.tokens.masked_fill(drop, UNK_ID)
        return batch


def word_counts(examples: Sequence[Example], vocab_size: int) -> torch.Tensor:
    """(V,) how often each word id occurs in ``examples``."""
    if not examples:
        return torch.zeros(vocab_size, dtype=torch.long)
    return torch.bincount(torch.cat([_as_long(e.words) for e in examples]), minlength=vocab_size)


def encode_sentences(sentences: Sequence[Sentence], vocab: Vocabularies, source: str) -> list[Example]:
    """Map sentences to ids; a tag the training split never had raises UnknownTagError."""
    unknown = sorted({t for _, ts in sentences for t in ts if t not in vocab.tags})
    if unknown:
        raise UnknownTagError(
            f"{source}: tag(s) {', '.join(unknown)} never occur in the training data; "
            f"known tags: {' '.join(vocab.tags.itos)}"
        )
    return [vocab.encode(ws, ts) for ws, ts in sentences]


class LengthBucketSampler(torch.utils.data.Sampler[list[int]]):
    """Batches of sentences of similar length, so that little of each batch is padding.

    shuffle=True (training): each epoch, shuffle the sentences, cut them into pools of
    ``pool_batches`` batches, sort each pool by length, cut the pools into batches
    and shuffle the order of the batches. The order depends only on ``seed`` and the
    epoch (Lightning calls ``set_epoch``), so a seeded run and a resumed run see the same batches.
    shuffle=False (evaluation, tagging): sentences sorted by length, longest first; with
    ``max_tokens``, a batch also stops before its token slots (sentences x the longest)
    pass ``max_tokens``, so the few long sentences come in small batches and the many
    short ones in large batches, with little padding in either.

    With ``num_replicas`` > 1 (several processes), in training each rank takes every
    ``num_replicas``-th batch, the first batches repeated so that every rank steps the
    same number of times; in evaluation each rank takes every ``num_replicas``-th
    sentence, so that no sentence is scored twice.
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        shuffle: bool,
        seed: int = 0,
        pool_batches: int = 50,
        num_replicas: int = 1,
        rank: int = 0,
        max_tokens: int | None = None,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if max_tokens is not None and max_tokens < 1:
            raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.pool_batches = pool_batches
        self.num_replicas = num_replicas
        self.rank = rank
        self.max_tokens = max_tokens
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _batches(self) -> list[list[int]]:
        if not self.shuffle:
            order = sorted(range(len(self.lengths)), key=lambda i: -self.lengths[i])
            # Several processes: every num_replicas-th sentence, so shares are exact (no
            # sentence counted twice) and differ by at most one sentence.
            order = order[self.rank :: self.num_replicas]
            batches, start = [], 0
            while start < len(order):
                size = self.batch_size
                if self.max_tokens is not None:
                    # Longest first, so the batch's first sentence sets its padded length.
                    size = max(1, min(size, self.max_tokens // max(1, self.lengths[order[start]])))
                batches.append(order[start : start + size])
                start += size
            return batches
        rng = random.Random(self.seed * 100_003 + self.epoch)
        order = list(range(len(self.lengths)))
        rng.shuffle(order)
        pool = self.batch_size * self.pool_batches
        batches = []
        for start in range(0, len(order), pool):
            chunk = sorted(order[start : start + pool], key=lambda i: self.lengths[i])
            batches.extend(chunk[i : i + self.batch_size] for i in range(0, len(chunk), self.batch_size))
        rng.shuffle(batches)
        return batches

    def _shares(self) -> list[list[int]]:
        batches = self._batches()
        if self.num_replicas == 1 or not self.shuffle:
            return batches
        # Training: every rank must step the same number of times, so the first batches
        # are repeated to fill the last round.
        per_rank = -(-len(batches) // self.num_replicas)
        batches = (batches * (1 + self.num_replicas))[: per_rank * self.num_replicas]
        return batches[self.rank :: self.num_replicas]

    def __iter__(self):
        return iter(self._shares())

    def __len__(self) -> int:
        return len(self._shares())


def padding_share(batches: Iterable[Sequence[int]], lengths: Sequence[int]) -> float:
    """Share of the token slots of padded batches that are padding."""
    slots = real = 0
    for batch in batches:
        batch_lengths = [lengths[i] for i in batch]
        slots += max(batch_lengths) * len(batch_lengths)
        real += sum(batch_lengths)
    return 1.0 - real / slots if slots else 0.0


class CoNLL2000DataModule(L.LightningDataModule):
    """CoNLL-2000 POS tagging: vocabularies from the training split, a seeded validation share.

    Args:
        data_dir: directory with train.txt(.gz) and test.txt(.gz); ``None`` means
            ``$POSTAG_DATA_DIR`` or ``data/`` in the project.
        batch_size: sentences per batch.
        val_fraction: share of the training sentences held out for validation.
        min_freq: words seen fewer times in training map to ``<unk>``.
        unk_replace: probability of replacing a training token by ``<unk>`` (word dropout).
        unk_rare_alpha: also replace a word seen ``c`` times in training with probability
            alpha / (alpha + c) (0: off); rare words then teach ``<unk>`` the most.
        split_seed: seed of the train/validation split.
        num_workers: DataLoader worker processes.
        bucketing: batch sentences of similar length (see ``LengthBucketSampler``);
            false gives random batches for training and file order for evaluation.
        batch_seed: seed of the training batch order when bucketing; null takes
            one from torch's global generator (so ``seed_everything`` fixes it).
        base_url: where the official files are fetched from (a mirror may be given);
            they are checked against the official MD5 sums either way.
        download: fetch missing files from the official URLs in ``prepare_data``.
        test_file: score this CoNLL file instead of the test split (evaluation).
    """

    def __init__(
        self,
        data_dir: str | None = None,
        batch_size: int = 32,
        val_fraction: float = 0.1,
        min_freq: int = 1,
        unk_replace: float = 0.0,
        unk_rare_alpha: float = 0.0,
        split_seed: int = 1234,
        num_workers: int = 0,
        download: bool = True,
        test_file: str | None = None,
        bucketing: bool = True,
        batch_seed: int | None = None,
        base_url: str = BASE_URL,
    ):
        super().__init__()
        if batch_size < 1:
            raise ValueError(f"data.batch_size must be at least 1, got {batch_size}")
        if not 0.0 < val_fraction < 1.0:
            raise ValueError(f"data.val_fraction must be in (0, 1), got {val_fraction}")
        if min_freq < 1:
            raise ValueError(f"data.min_freq must be at least 1, got {min_freq}")
        if not 0.0 <= unk_replace < 1.0:
            raise ValueError(f"data.unk_replace must be in [0, 1), got {unk_replace}")
        if unk_rare_alpha < 0:
            raise ValueError(f"data.unk_rare_alpha must be 0 (off) or positive, got {unk_rare_alpha}")
        self.data_dir = Path(data_dir) if data_dir else default_data_dir()
        self.batch_size = batch_size
        self.val_fraction = val_fraction
        self.min_freq = min_freq
        self.unk_replace = unk_replace
        self.unk_rare_alpha = unk_rare_alpha
        self.split_seed = split_seed
        self.num_workers = num_workers
        self.download = download
        self.test_file = Path(test_file) if test_file else None
        self.bucketing = bucketing
        self.batch_seed = batch_seed
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.vocab: Vocabularies | None = None
        self.train_set = self.val_set = self.test_set = None

    # Lightning calls this in one process per node, before setup: fetch only, set no state.
    def prepare_data(self) -> None:
        for split in self._splits_needed():
            name, md5 = SPLITS[split]
            if find_split(self.data_dir, split) is not None:
                continue
            if not self.download:
                raise FileNotFoundError(
                    f"no {split}.txt.gz or {split}.txt in {self.data_dir}; set data.download=true "
                    f"or {DATA_DIR_ENV} to a directory holding the CoNLL-2000 files"
                )
            download(self.base_url + name, self.data_dir / name, md5)

    def _splits_needed(self) -> list[str]:
        # With vocabularies from a checkpoint, training data is not needed;
        # with a test_file, the test split is not.
        needed = [] if self.vocab is not None else ["train"]
        return needed + ([] if self.test_file is not None else ["test"])

    def _split_path(self, split: str) -> Path:
        path = find_split(self.data_dir, split)
        if path is None:
            raise FileNotFoundError(
                f"no {split}.txt.gz or {split}.txt in {self.data_dir} (run prepare_data to download "
                f"from {BASE_URL}, or set {DATA_DIR_ENV})"
            )
        return path

    def setup(self, stage: str | None = None) -> None:
        need_train = stage in (None, "fit", "validate") and self.train_set is None
        if self.vocab is None or need_train:
            train_path = self._split_path("train")
            train_split = read_conll(train_path)
            train, val = self._train_val_split(train_split)
            if self.vocab is None:
                # Words from the sentences trained on only, so validation words can be
                # unseen as test words are.
                self.vocab = Vocabularies.from_training(train, train_split, self.min_freq)
            if need_train:
                self.train_set = encode_sentences(train, self.vocab, str(train_path))
                self.val_set = encode_sentences(val, self.vocab, str(train_path))
            if self.batch_seed is None:
                # Drawn once, here, from the generator seed_everything has set: the batch order
                # then follows the run's seed, and a resumed run gets the same one.
                self.batch_seed = int(torch.randint(0, 2**31 - 1, ()).item())
        if stage in (None, "test", "predict") and self.test_set is None:
            path = self.test_file or self._split_path("test")
            self.test_set = encode_sentences(read_conll(path), self.vocab, str(path))

    def _train_val_split(self, sentences: list[Sentence]) -> tuple[list[Sentence], list[Sentence]]:
        order = list(range(len(sentences)))
        random.Random(self.split_seed).shuffle(order)
        val_ids = set(order[: max(1, round(len(sentences) * self.val_fraction))])
        train = [s for i, s in enumerate(sentences) if i not in val_ids]
        val = [s for i, s in enumerate(sentences) if i in val_ids]
        return train, val

    def _loader(self, dataset, shuffle: bool, collate_fn=collate) -> DataLoader:
        common = {"collate_fn": collate_fn, "num_workers": self.num_workers, "persistent_workers": self.num_workers > 0}
        # With several processes (DDP) each takes its own share of the batches; the
        # Trainer is told not to add a DistributedSampler (trainer.use_distributed_sampler=false).
        trainer = getattr(self, "trainer", None)
        replicas, rank = (trainer.world_size, trainer.global_rank) if trainer is not None else (1, 0)
        seed = self.batch_seed if self.batch_seed is not None else 0
        if not self.bucketing:
            if replicas > 1:
                sampler = DistributedSampler(dataset, replicas, rank, shuffle=shuffle, seed=seed, drop_last=False)
                return DataLoader(dataset, batch_size=self.batch_size, sampler=sampler, **common)
            return DataLoader(dataset, batch_size=self.batch_size, shuffle=shuffle, **common)
        sampler = LengthBucketSampler(
            [len(e.words) for e in dataset],
            self.batch_size,
            shuffle=shuffle,
            seed=seed,
            num_replicas=replicas,
            rank=rank,
        )
        return DataLoader(dataset, batch_sampler=sampler, **common)

    def train_dataloader(self) -> DataLoader:
        counts = word_counts(self.train_set, len(self.vocab.words)) if self.unk_rare_alpha > 0 else None
        dropout = WordDropoutCollate(self.unk_replace, self.unk_rare_alpha, counts)
        return self._loader(self.train_set, shuffle=True, collate_fn=dropout)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set, shuffle=False)

    # Vocabularies travel with checkpoints, so a checkpoint alone can evaluate and tag.
    def state_dict(self) -> dict:
        if self.vocab is None:
            return {}
        return {**self.vocab.state_dict(), "batch_seed": self.batch_seed}

    def load_state_dict(self, state: dict) -> None:
        if state:
            self.vocab = Vocabularies.from_state_dict(state)
            if state.get("batch_seed") is not None:
                self.batch_seed = state["batch_seed"]


def vocabularies_from_checkpoint(checkpoint: dict, source: str = "checkpoint") -> Vocabularies:
    """The vocabularies saved by CoNLL2000DataModule.state_dict inside a Lightning checkpoint."""
    state = checkpoint.get(CoNLL2000DataModule.__qualname__)
    try:
        return Vocabularies.from_state_dict(state)
    except (KeyError, TypeError) as err:
        raise ValueError(f"{source}: no postag vocabulary in this checkpoint (is it a postag checkpoint?)") from err
