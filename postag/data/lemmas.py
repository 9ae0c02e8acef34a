"""Lemmas as tags: a lemma rule says how to edit a word's form into its lemma, so that a tagger
learns a few hundred rules (``cut one letter at the end``) instead of one class per lemma, and
applies them to words it never saw.

A rule is ``CASING|PREFIX_CUT|SUFFIX_CUT|N|ADDED``:

- ``CASING``: ``lower``, ``upper`` or ``title`` (the edit works on the lowercased form and the
  lemma is cased so), or ``form`` (the edit works on the form as it is);
- ``PREFIX_CUT``, ``SUFFIX_CUT``: how many characters go from the form's start and end;
- ``ADDED``: the characters that take their place, the first ``N`` at the start, the rest at the end.

The part the form and the lemma keep is their longest common substring (the first in the form
where several are as long). ``cats`` → ``cat`` is ``lower|0|1|0|``; ``went`` → ``go``, which share
nothing, is ``lower|0|4|0|go``. A rule that cuts more characters than a form has (an unseen short
word) gives the form itself as its lemma. Pure Python: the ONNX runtime reads it without torch.
"""

from __future__ import annotations

from collections.abc import Sequence

LEMMA_COLUMN = "lemma"  # the data.tag_column whose tags are lemma rules
_CASINGS = ("lower", "upper", "title", "form")


def _casing(lemma: str) -> str:
    if lemma == lemma.lower():
        return "lower"
    if lemma == lemma.upper():
        return "upper"
    if lemma == lemma[:1].upper() + lemma[1:].lower():
        return "title"
    return "form"


def _cased(text: str, casing: str) -> str:
    if casing == "upper":
        return text.upper()
    if casing == "title":
        return text[:1].upper() + text[1:].lower()
    return text  # lower: already lowercased; form: as it is


def _longest_common(a: str, b: str) -> tuple[int, int, int]:
    """(start in a, start in b, length) of the longest common substring, the first in ``a`` on a tie."""
    best = (0, 0, 0)
    previous = [0] * (len(b) + 1)
    for i in range(1, len(a) + 1):
        current = [0] * (len(b) + 1)
        for j in range(1, len(b) + 1):
            if a[i - 1] == b[j - 1]:
                current[j] = previous[j - 1] + 1
                if current[j] > best[2]:
                    best = (i - current[j], j - current[j], current[j])
        previous = current
    return best


def lemma_rule(form: str, lemma: str) -> str:
    """The rule that edits ``form`` into ``lemma``: ``lemma_of(form, lemma_rule(form, lemma)) == lemma``."""
    casing = _casing(lemma)
    source, target = (form, lemma) if casing == "form" else (form.lower(), lemma.lower())
    if casing != "form" and _cased(target, casing) != lemma:  # a casing that loses letters (ß, İ)
        casing, source, target = "form", form, lemma
    start, target_start, length = _longest_common(source, target)
    if length == 0:
        start = target_start = 0
    prefix_cut, suffix_cut = start, len(source) - start - length
    added_start, added_end = target[:target_start], target[target_start + length:]
    return f"{casing}|{prefix_cut}|{suffix_cut}|{len(added_start)}|{added_start}{added_end}"


def lemma_of(form: str, rule: str) -> str:
    """``form`` edited by ``rule``; the form itself where the rule cuts more than the form has."""
    casing, prefix_cut, suffix_cut, added_start, added = rule.split("|", 4)
    prefix_cut, suffix_cut, added_start = int(prefix_cut), int(suffix_cut), int(added_start)
    source = form if casing == "form" else form.lower()
    if prefix_cut + suffix_cut > len(source):
        return form
    kept = source[prefix_cut:len(source) - suffix_cut]
    return _cased(added[:added_start] + kept + added[added_start:], casing)


def is_lemma_rule(text: str) -> bool:
    parts = text.split("|", 4)
    return len(parts) == 5 and parts[0] in _CASINGS and all(p.isdigit() for p in parts[1:4]) and (
        int(parts[3]) <= len(parts[4])
    )

