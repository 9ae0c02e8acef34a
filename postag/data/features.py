"""What a word's form says about it: its shape, its suffix, its (clipped) characters."""

from __future__ import annotations

MAX_WORD_CHARS = 20  # longer words keep their first 10 and last 10 characters
SUFFIX_LEN = 3
# Lengths of the prefixes and suffixes (lowercased) that affix features look up, as spaCy's
# PREFIX and SUFFIX and the usual CRF features do: enough to cover "un-", "-s", "-ed", "-ing", "-tion".
AFFIX_LENGTHS = (1, 2, 3, 4)
N_AFFIXES = 2 * len(AFFIX_LENGTHS)  # one prefix and one suffix of each length
# A word's lowercase form and the lowercase part after its last hyphen, looked up among the
# lowercased training words: a word never seen as written is often one seen in lowercase
# ("Stocks" at the start of a headline) or on its own ("lung-cancer": "cancer").
N_NORMS = 2
# "none": no cased letter at all, as in punctuation, numbers and the scripts without case
# (Chinese, Japanese, Arabic, Hebrew, Devanagari, ...), where case says nothing.
CAPITALISATION = ("lower", "initial", "upper", "mixed", "none")
N_SHAPES = 1 + len(CAPITALISATION) * 2 * 2  # padding, then capitalisation x digit x hyphen


def suffix(word: str) -> str:
    return word[-SUFFIX_LEN:].lower()


def affixes(word: str) -> list[str | None]:
    """The word's prefixes ("un-") and suffixes ("-ing") of AFFIX_LENGTHS, lowercased, as
    N_AFFIXES strings; those longer than the word are left out (None)."""
    lower = word.lower()
    prefixes = [lower[:n] + "-" if len(lower) >= n else None for n in AFFIX_LENGTHS]
    suffixes = ["-" + lower[-n:] if len(lower) >= n else None for n in AFFIX_LENGTHS]
    return prefixes + suffixes


def norms(word: str) -> list[str | None]:
    """The word lowercased, and the lowercased part after its last hyphen (None without a
    hyphen or with nothing after it): N_NORMS strings."""
    lower = word.lower()
    head = lower.rpartition("-")[2] if "-" in lower else ""
    return [lower, head or None]


def capitalisation(word: str) -> str:
    """One of CAPITALISATION, from the word's cased letters only (any script that has case:
    Latin, Greek, Cyrillic, Armenian, ...); letters of caseless scripts are left out."""
    # str.islower() and str.isupper() answer the two common cases in one pass: no upper- (or
    # title-) case letter and at least one lowercase one, and the other way round.
    if word.islower():
        return "lower"
    if word.isupper():
        return "upper"
    cased = [c for c in word if c.islower() or c.isupper()]
    if not cased:
        return "none"
    if all(c.islower() for c in cased):
        return "lower"
    if all(c.isupper() for c in cased):
        return "upper"
    if cased[0].isupper() and all(c.islower() for c in cased[1:]):
        return "initial"
    return "mixed"


def word_shape(word: str) -> int:
    """Id in [1, N_SHAPES) from capitalisation, digits and hyphens; 0 is padding."""
    has_digit = not word.isalpha() and any(c.isdigit() for c in word)  # letters are never digits
    return 1 + CAPITALISATION.index(capitalisation(word)) * 4 + 2 * has_digit + ("-" in word)


def clip_word(word: str) -> str:
    half = MAX_WORD_CHARS // 2
    return word if len(word) <= MAX_WORD_CHARS else word[:half] + word[-half:]
