"""Tagging with an exported model (``postag export``) and nothing but onnxruntime and numpy.

``OnnxTagger.load(directory).tag_sentences(sentences)`` gives the tags the PyTorch ``Tagger``
gives: the same word records (``postag.data.records``), batches of sentences of similar
lengths, and windows for sentences longer than the model's positions
(``postag.network.window_plan``). Nothing here imports torch.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from postag.data.buckets import BATCH_SIZE, MAX_TOKENS, longest_first
from postag.data.tag_columns import SAVED_LATER_DEFAULTS, outputs
from postag.data.records import AFFIXES_FROM, CHARS_FROM, NORMS_FROM, PAD_ID, RECORD, RECORD_WIDTH, word_record
from postag.portable import FORMAT_VERSION, MODEL_FILE, SETTINGS_FILE
from postag.errors import InputError
from postag.network.span_decoder import span_decoder
from postag.network.window_plan import window_plan

# Encoded words kept for reuse; emptied when full, so that no input can grow it without bound.
WORD_CACHE_SIZE = 1 << 17


class OnnxTagger:
    """An exported tagger: its ONNX session, its vocabularies and batch limits."""

    def __init__(self, directory: str | Path, batch_size: int = BATCH_SIZE, max_tokens: int | None = MAX_TOKENS,
                 threads: int = 0):
        import onnxruntime

        directory = Path(directory)
        model, settings_file = directory / MODEL_FILE, directory / SETTINGS_FILE
        for path in (model, settings_file):
            if not path.is_file():
                raise InputError(f"{path}: no such file (expected a directory written by `postag export`)")
        settings = json.loads(settings_file.read_text(encoding="utf-8"))
        if settings.get("format") != FORMAT_VERSION:
            raise InputError(f"{settings_file}: format {settings.get('format')!r}, expected {FORMAT_VERSION} (export the checkpoint again with `postag export`)")
        vocabularies = {**SAVED_LATER_DEFAULTS, **settings["vocabularies"]}
        self.tag_names: list[str] = vocabularies["tags"]
        self.conllu_column: str = vocabularies["conllu_column"]
        self._span_decoder = span_decoder(self.tag_names, self.conllu_column, vocabularies["spans_open_with_b"])
        self._lookups = {name: {s: i for i, s in enumerate(items)} for name, items in vocabularies.items()
                         if isinstance(items, list)}
        self._unread = frozenset(settings["unread"])
        self.inputs: list[str] = settings["inputs"]
        self.max_len: int | None = settings["max_len"]
        self.batch_size, self.max_tokens = batch_size, max_tokens
        # Batches run side by side, one thread each: a small model's batch does not keep several
        # threads busy, and one batch's words are encoded while others run (session.run frees the GIL)
        self.workers = threads or os.cpu_count() or 1
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        self._records: dict[str, list[int]] = {}

    @classmethod
    def load(cls, directory: str | Path, **kwargs) -> OnnxTagger:
        return cls(directory, **kwargs)

    def tag(self, words: Sequence[str]) -> list[str]:
        return self.tag_sentences([words])[0]

    def tag_sentences(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        """Tags of many tokenised sentences, in their order (lemmas for a model of lemmas); an empty
        sentence gets no tags."""
        if isinstance(sentences, str) or any(isinstance(s, str) for s in sentences):
            raise TypeError("tag_sentences takes a list of tokenised sentences (lists of words), not strings")
        results: list[list[str]] = [[] for _ in sentences]
        real = [i for i, words in enumerate(sentences) if len(words) > 0]
        lengths = [len(sentences[i]) for i in real]
        batches = [[real[j] for j in batch]
                   for batch in longest_first(lengths, self.batch_size, self.max_tokens, window=self.max_len)]

        def tag_batch(ids: list[int]) -> None:
            best = self._best([sentences[i] for i in ids])  # (B, S)
            for row, i in zip(best, ids):
                tags = [self.tag_names[t] for t in row[: len(sentences[i])]]
                results[i] = outputs(sentences[i], tags, self.conllu_column)

        if self.workers == 1 or len(batches) == 1:
            for ids in batches:
                tag_batch(ids)
        else:
            with ThreadPoolExecutor(self.workers) as pool:
                list(pool.map(tag_batch, batches))
        return results

    def forget_words(self) -> None:
        """Empty the cache of encoded words, as a new process starts (for benchmarks)."""
        self._records.clear()

    def _record(self, word: str) -> list[int]:
        record = self._records.get(word)
        if record is None:
            if len(self._records) >= WORD_CACHE_SIZE:
                self._records.clear()
            record = self._records[word] = word_record(word, self._lookups, self._unread)
        return record

    def _best(self, sentences: list[Sequence[str]]) -> np.ndarray:
        """The best tag id of every token of a batch, (B, S)."""
        longest = max(map(len, sentences))
        records = np.zeros((len(sentences), longest, RECORD_WIDTH), dtype=np.int64)
        for row, words in enumerate(sentences):
            records[row, : len(words)] = [self._record(w) for w in words]
        mask = np.arange(longest)[None, :] < np.array([len(w) for w in sentences])[:, None]  # (B, S)
        fields = {
            "tokens": records[..., RECORD["words"]],
            "mask": mask,
            "shapes": records[..., RECORD["shapes"]],
            "suffixes": records[..., RECORD["suffixes"]],
            "affixes": records[..., AFFIXES_FROM:NORMS_FROM],
            "norms": records[..., NORMS_FROM:CHARS_FROM],
        }
        if "char_ids" in self.inputs:
            # The real characters of each distinct word once, the words numbered from 1 (PackedChars)
            numbers: dict[str, int] = {}
            index = np.zeros(mask.shape, dtype=np.int64)  # (B, S), 0 for padding tokens
            for b, words in enumerate(sentences):
                index[b, : len(words)] = [numbers.setdefault(w, len(numbers) + 1) for w in words]
            chars = np.array([self._record(w)[CHARS_FROM:] for w in numbers], dtype=np.int64)  # (U, width)
            real = chars != PAD_ID
            count = int(real.sum())
            slots = np.full(chars.shape, count, dtype=np.int64)  # R: past the word's end
            slots[real] = np.arange(count)
            fields["char_ids"] = chars[real]  # (R,)
            fields["char_word"] = np.broadcast_to(np.arange(1, len(numbers) + 1)[:, None], chars.shape)[real]
            fields["char_index"] = index
            fields["char_slots"] = slots[:, : real.sum(1).max()]  # (U, L)
        if self.max_len is None or longest <= self.max_len:
            return self._best_tags(self._run(fields), mask)
        # Windows of max_len tokens, run as the rows of one batch; each token read from its own.
        plan = window_plan(longest, self.max_len)
        columns = np.array(plan.columns())  # (K, L)
        pad = plan.padded_length - longest
        # the characters are the batch's whatever the window; char_index is windowed with the tokens
        windows = {name: fields.pop(name) for name in ("char_ids", "char_word", "char_slots") if name in fields}
        for name, value in fields.items():
            widths = [(0, 0), (0, pad)] + [(0, 0)] * (value.ndim - 2)
            value = np.pad(value, widths, constant_values=False if name == "mask" else PAD_ID)  # (B, S', ...)
            windows[name] = np.swapaxes(value[:, columns], 0, 1).reshape(-1, self.max_len, *value.shape[2:])
        scores = self._run(windows)  # (K * B, L, T)
        scores = scores.reshape(plan.count, len(sentences), self.max_len, -1)  # (K, B, L, T)
        return self._best_tags(scores[plan.owner, :, plan.offset].swapaxes(0, 1), mask)  # (B, S)

    def _best_tags(self, scores: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Tag ids (B, S) of tag scores (B, S, T), as ``postag.network.tagging.best_tags`` picks them."""
        if self._span_decoder is None:
            return scores.argmax(-1)
        return self._span_decoder.best(scores, mask.sum(axis=1))

    def _run(self, fields: dict[str, np.ndarray]) -> np.ndarray:
        return self.session.run(None, {name: np.ascontiguousarray(fields[name]) for name in self.inputs})[0]

