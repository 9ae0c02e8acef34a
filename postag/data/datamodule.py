"""TaggingDataModule: one data module for every corpus, configured with a format and files."""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import lightning as L
import torch
from torch.utils.data import DataLoader, DistributedSampler

from postag.data.batching import Example, LengthBucketSampler, WordDropoutCollate, collate, word_counts
from postag.data.corpus import Sentence
from postag.data.download import BASE_URL, DATA_DIR_ENV, SPLITS, default_data_dir, download
from postag.data.formats import make_reader
from postag.errors import UnknownTagError
from postag.data.vocab import Vocabularies

log = logging.getLogger(__name__)

# Evaluation data with more of its tokens under tags the model never learned is taken for
# data of another tag set (the wrong checkpoint for it) and refused, not scored.
MAX_UNSEEN_TAG_SHARE = 0.5


def model_window(trainer) -> int | None:
    """The positions of the model a trainer evaluates (``Transformer.window``), past which a
    sentence is scored in windows planned for its batch's length: evaluation then gives such a
    sentence a batch of its own, as ``Tagger`` does, so that it is scored as it is tagged."""
    net = getattr(getattr(trainer, "lightning_module", None), "net", None)
    return getattr(getattr(net, "encoder", None), "window", None)


class TaggingDataModule(L.LightningDataModule):
    """Part-of-speech tagging data: vocabularies from the training split, then padded batches.

    Args:
        format: ``conll2000`` (``WORD POS CHUNK``, the default corpus, downloaded when
            missing), ``columns`` (any whitespace-separated columns) or ``conllu``.
        data_dir: folder searched for the splits the files below leave open (``train.txt(.gz)``,
            ``*-ud-train.conllu(.gz)``, ...: see the readers in ``postag/data/corpus.py``);
            ``None`` means ``$POSTAG_DATA_DIR`` or ``data/`` in the project.
        train_file, dev_file, test_file: explicit split files. With a dev split (given, or
            found in ``data_dir`` when ``train_file`` is not given) validation is the dev
            split; without one, ``val_fraction`` of the training sentences is held out.
        word_column, tag_column: for ``columns``, the column numbers (0 is the first), several tag
            columns as ``{name: number}`` (``{xpos: 1, chunk: 2}``, ``postag.data.corpus.ColumnReader``); for
            ``conllu``, ``tag_column`` is ``upos``, ``xpos``, ``feats``, ``lemma`` or a joint tag such as
            ``upos+xpos+feats+lemma`` or ``[upos, xpos, feats, lemma]`` (postag.data.tag_columns).
            ``None``: the format's default.
        batch_size: sentences per batch.
        val_fraction: share of the training sentences held out for validation (no dev split).
        min_freq: words seen fewer times in training map to ``<unk>``.
        unk_replace: probability of replacing a training token by ``<unk>`` (word dropout).
        unk_rare_alpha: also replace a word seen ``c`` times in training with probability
            alpha / (alpha + c) (0: off); rare words then teach ``<unk>`` the most.
        unk_hide_spelling: a replaced word seen ``c`` times in training also loses its spelling
            (characters, shape, suffix, affixes, lowercase forms) with probability c / (c + beta),
            beta this value (0: off); ``WordDropoutCollate``.
        split_seed: seed of the train/validation split.
        num_workers: DataLoader worker processes.
        bucketing: batch sentences of similar length (see ``LengthBucketSampler``);
            false gives random batches for training and file order for evaluation.
        batch_seed: seed of the training batch order when bucketing; null takes
            one from torch's global generator (so ``seed_everything`` fixes it).
        download: fetch missing CoNLL-2000 files from ``base_url`` in ``prepare_data``.
        base_url: where the official CoNLL-2000 files are fetched from (a mirror may be
            given); they are checked against the official MD5 sums either way.
    """

    def __init__(
        self,
        format: str = "conll2000",
        data_dir: str | None = None,
        train_file: str | None = None,
        dev_file: str | None = None,
        test_file: str | None = None,
        word_column: int | None = None,
        tag_column: int | str | None = None,
        batch_size: int = 32,
        val_fraction: float = 0.1,
        min_freq: int = 1,
        unk_replace: float = 0.1,
        unk_rare_alpha: float = 0.0,
        unk_hide_spelling: float = 0.0,
        split_seed: int = 1234,
        num_workers: int = 0,
        bucketing: bool = True,
        batch_seed: int | None = None,
        download: bool = True,
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
        if unk_hide_spelling < 0:
            raise ValueError(f"data.unk_hide_spelling must be 0 (off) or positive, got {unk_hide_spelling}")
        self.reader = make_reader(format, word_column, tag_column)
        self.format = format
        self.data_dir = Path(data_dir) if data_dir else default_data_dir()
        self.files = {"train": train_file, "dev": dev_file, "test": test_file}
        self.batch_size = batch_size
        self.val_fraction = val_fraction
        self.min_freq = min_freq
        self.unk_replace = unk_replace
        self.unk_rare_alpha = unk_rare_alpha
        self.unk_hide_spelling = unk_hide_spelling
        self.split_seed = split_seed
        self.num_workers = num_workers
        self.download = download
        self.bucketing = bucketing
        self.batch_seed = batch_seed
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.vocab: Vocabularies | None = None
        self.train_set = self.val_set = self.test_set = None
        # split -> Counter of its gold tags that the training data never had
        self.unseen_tags: dict[str, Counter] = {}
        # split ("train", "val", "test") -> its sentences as read, for reports and figures
        self.sentences: dict[str, list[Sentence]] = {}

    # Lightning calls this in one process per node, before setup: fetch only, set no state.
    def prepare_data(self) -> None:
        for split in self._splits_needed():
            if self.files[split] is not None or self.reader.find(self.data_dir, split) is not None:
                continue
            if self.format != "conll2000":
                continue  # reported by setup, with the names looked for
            if not self.download:
                raise FileNotFoundError(
                    f"no {split}.txt.gz or {split}.txt in {self.data_dir}; set data.download=true "
                    f"or {DATA_DIR_ENV} to a directory holding the CoNLL-2000 files"
                )
            name, md5 = SPLITS[split]
            download(self.base_url + name, self.data_dir / name, md5)

    def _splits_needed(self) -> list[str]:
        # With vocabularies from a checkpoint, training data is not needed.
        return ([] if self.vocab is not None else ["train"]) + ["test"]

    def split_path(self, split: str) -> Path | None:
        """The file of ``split``: the one given, else the one found in data_dir (the dev split only
        when the training file was not given either); None for a dev split that is not there."""
        given = self.files[split]
        if given is not None:
            path = Path(given)
            if not path.is_file():
                raise FileNotFoundError(f"data.{split}_file: no such file: {path}")
            return path
        if split == "dev" and self.files["train"] is not None:
            return None
        path = self.reader.find(self.data_dir, split)
        if path is None and split != "dev":
            raise FileNotFoundError(
                f"no {split} split in {self.data_dir}: expected one of "
                f"{', '.join(self.reader.split_names(split))} (or set data.{split}_file, "
                f"data.data_dir or {DATA_DIR_ENV})"
            )
        return path

    def setup(self, stage: str | None = None) -> None:
        need_train = stage in (None, "fit", "validate") and self.train_set is None
        if self.vocab is None or need_train:
            train_path = self.split_path("train")
            train_split = self.reader.read(train_path)
            dev_path = self.split_path("dev")
            if dev_path is None:
                train, val, val_source = *self._train_val_split(train_split), train_path
            else:
                train, val, val_source = train_split, self.reader.read(dev_path), dev_path
            if self.vocab is None:
                # Words from the sentences trained on only, so validation words can be
                # unseen as test words are.
                self.vocab = Vocabularies.from_training(train, train_split, self.min_freq, self.reader.conllu_column)
            if need_train:
                self.train_set = self.encode(train, "train", train_path)
                self.val_set = self.encode(val, "val", val_source)
            if self.batch_seed is None:
                # Drawn once, here, from the generator seed_everything has set: the batch order
                # then follows the run's seed, and a resumed run gets the same one.
                self.batch_seed = int(torch.randint(0, 2**31 - 1, ()).item())
        if stage in (None, "test", "predict") and self.test_set is None:
            path = self.split_path("test")
            self.test_set = self.encode(self.reader.read(path), "test", path)

    def encode(self, sentences: Sequence[Sentence], split: str, source: Path) -> list[Example]:
        """Sentences to ids. Gold tags the training data never had are counted in
        ``unseen_tags[split]`` and scored as wrong, with one warning; data mostly made of
        them raises UnknownTagError."""
        self.sentences[split] = list(sentences)
        known = self.vocab.tags
        tokens = sum(len(tags) for _, tags in sentences)
        unseen = Counter(t for _, tags in sentences for t in tags if t not in known)
        self.unseen_tags[split] = unseen
        if unseen and sum(unseen.values()) > MAX_UNSEEN_TAG_SHARE * tokens:
            raise UnknownTagError(
                f"{source}: {sum(unseen.values())} of {tokens} tokens have tags the model never learned "
                f"({', '.join(sorted(unseen)[:10])}{', ...' if len(unseen) > 10 else ''}): is this the "
                f"checkpoint for this data (its tags: {' '.join(known.itos[:20])}{' ...' if len(known) > 20 else ''})?"
            )
        if unseen:
            # the most frequent few, comma-separated: a joint tag holds spaces
            listed = ", ".join(tag for tag, _ in unseen.most_common(10)) + (", ..." if len(unseen) > 10 else "")
            log.warning(
                "%s: %d tokens have %d tags never seen in training (%s); they are scored as wrong",
                source, sum(unseen.values()), len(unseen), listed,
            )
        return [self.vocab.encode(words, tags) for words, tags in sentences]

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
            window=None if shuffle else model_window(trainer),
        )
        return DataLoader(dataset, batch_sampler=sampler, **common)

    def train_dataloader(self) -> DataLoader:
        needs_counts = self.unk_rare_alpha > 0 or self.unk_hide_spelling > 0
        counts = word_counts(self.train_set, len(self.vocab.words)) if needs_counts else None
        dropout = WordDropoutCollate(self.unk_replace, self.unk_rare_alpha, counts, self.unk_hide_spelling)
        return self._loader(self.train_set, shuffle=True, collate_fn=dropout)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set, shuffle=False)

    # The batch order's seed travels with checkpoints, so a resumed run sees the same batches.
    # The vocabularies travel with the model (TaggerModule.on_save_checkpoint).
    def state_dict(self) -> dict:
        return {} if self.batch_seed is None else {"batch_seed": self.batch_seed}

    def load_state_dict(self, state: dict) -> None:
        if state.get("batch_seed") is not None:
            self.batch_seed = state["batch_seed"]
