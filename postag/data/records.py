"""A word's record: the ids the network reads for one word, worked out once per distinct word.

RECORD_WIDTH int64 values, laid out as RECORD says (word id, shape, suffix id, N_AFFIXES affix
ids, N_NORMS lowercase-form ids, then its characters); sentences and batches are cut from
records, so every field is defined here and nowhere else. Pure Python: the torch-free runtime
(``postag.portable``) builds the same records as ``Vocabularies``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from postag.data.features import MAX_WORD_CHARS, N_AFFIXES, N_NORMS, affixes, clip_word, norms, suffix, word_shape

PAD_ID = 0  # padding, in every id field
UNK_ID = 1  # a word, character or suffix never seen in training

# Column of each one-value field in a word's record; the affix ids, the lowercase-form ids, then
# the characters fill the rest.
RECORD = {"words": 0, "shapes": 1, "suffixes": 2}
AFFIXES_FROM = len(RECORD)
NORMS_FROM = AFFIXES_FROM + N_AFFIXES
CHARS_FROM = NORMS_FROM + N_NORMS
RECORD_WIDTH = CHARS_FROM + MAX_WORD_CHARS
# The record's fields by name (the word ids are the Batch's tokens)
RECORD_FIELDS = (*RECORD, "affixes", "norms", "chars")


def word_record(word: str, stoi: Mapping[str, Mapping[str, int]], unread: Collection[str] = ()) -> list[int]:
    """The record of ``word``; ``stoi`` maps each vocabulary's name (words, suffixes, affixes,
    norms, chars) to its string-to-id table; fields in ``unread`` are left at padding."""
    values = [PAD_ID] * RECORD_WIDTH
    values[RECORD["words"]] = stoi["words"].get(word, UNK_ID)
    if "shapes" not in unread:
        values[RECORD["shapes"]] = word_shape(word)
    if "suffixes" not in unread:
        values[RECORD["suffixes"]] = stoi["suffixes"].get(suffix(word), UNK_ID)
    if "affixes" not in unread:
        table = stoi["affixes"]
        values[AFFIXES_FROM:NORMS_FROM] = [PAD_ID if a is None else table.get(a, UNK_ID) for a in affixes(word)]
    if "norms" not in unread:
        table = stoi["norms"]
        values[NORMS_FROM:CHARS_FROM] = [PAD_ID if n is None else table.get(n, UNK_ID) for n in norms(word)]
    if "chars" not in unread:
        table = stoi["chars"]
        chars = [table.get(c, UNK_ID) for c in clip_word(word)]
        values[CHARS_FROM : CHARS_FROM + len(chars)] = chars  # PAD_ID (0) after the word's end
    return values
