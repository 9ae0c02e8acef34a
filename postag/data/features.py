"""What a word's form says about it: its shape, its suffix, its (clipped) characters."""

from __future__ import annotations

MAX_WORD_CHARS = 20  # longer words keep their first 10 and last 10 characters
SUFFIX_LEN = 3
# "none": no cased letter at all, as in punctuation, numbers and the scripts without case
# (Chinese, Japanese, Arabic, Hebrew, Devanagari, ...), where case says nothing.
CAPITALISATION = ("lower", "initial", "upper", "mixed", "none")
N_SHAPES = 1 + len(CAPITALISATION) * 2 * 2  # padding, then capitalisation x digit x hyphen


def suffix(word: str) -> str:
    return word[-SUFFIX_LEN:].lower()


def capitalisation(word: str) -> str:
    """One of CAPITALISATION, from the word's cased letters only (any script that has case:
    Latin, Greek, Cyrillic, Armenian, ...); letters of caseless scripts are left out."""
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
    has_digit = any(c.isdigit() for c in word)
    return 1 + CAPITALISATION.index(capitalisation(word)) * 4 + 2 * has_digit + ("-" in word)


def clip_word(word: str) -> str:
    half = MAX_WORD_CHARS // 2
    return word if len(word) <= MAX_WORD_CHARS else word[:half] + word[-half:]
