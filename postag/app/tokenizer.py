"""Plain English text to Penn Treebank tokens, as the CoNLL-2000 tagger was trained on.

English only: other languages come tokenised (tokens separated by spaces) or as CoNLL-U.
The rules follow the Penn Treebank's: punctuation split off words, except in abbreviations
(U.S.) and numbers (1,000.50, 10:30); clitics split (do|n't, John|'s, ca|n't); cannot,
gonna, gotta, wanna, gimme and lemme in two; double quotes written `` when they open and
'' when they close, single ones ` and '; an ellipsis (... or …) and a dash (--, —) one token.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(
    r"(?:[A-Za-z]\.){2,}"  # U.S.  e.g.
    r"|\d+(?:[.,:/]\d+)*"  # 3.5  1,000  10:30
    r"|\.\.\.|…|--|—"  # ellipsis, dash
    r"|\w+(?=n't\b)|n't\b"  # do|n't
    r"|\w+(?='(?:s|re|ve|ll|d|m)\b)"  # John|'s
    r"|'(?:s|re|ve|ll|d|m)\b"  # 's  're ...
    r"|\w+(?:[-']\w+)*"  # words, rock-bottom, o'clock
    r"|\S",  # punctuation, one character at a time
    re.IGNORECASE,
)
# Words the Treebank writes as two tokens, and where they split.
_TWO_TOKENS = {"cannot": 3, "gonna": 3, "gotta": 3, "wanna": 3, "gimme": 3, "lemme": 3}
_NORMALISED = {"…": "...", "—": "--"}
_OPENERS = "([{<"


def _quote(text: str, start: int, double: bool) -> str:
    """`` or ` where a quote opens (at the start, after a space or an opening bracket), else '' or '."""
    before = text[start - 1] if start > 0 else " "
    opening = before.isspace() or before in _OPENERS or before in "\"'"
    return ("``" if double else "`") if opening else ("''" if double else "'")


_APOSTROPHE = re.compile(r"(?<=\w)’(?=\w)")  # a typographic apostrophe inside a word: can’t, John’s


def tokenize(text: str) -> list[str]:
    """Penn Treebank tokens of one line of English text (see the module's docstring)."""
    text = _APOSTROPHE.sub("'", text)
    tokens = []
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token in ('"', "“", "”"):
            tokens.append(_quote(text, match.start(), double=True) if token == '"' else ("``" if token == "“" else "''"))
        elif token in ("'", "‘", "’"):
            tokens.append(_quote(text, match.start(), double=False) if token == "'" else ("`" if token == "‘" else "'"))
        elif token.lower() in _TWO_TOKENS:
            cut = _TWO_TOKENS[token.lower()]
            tokens += [token[:cut], token[cut:]]
        else:
            tokens.append(_NORMALISED.get(token, token))
    return tokens
