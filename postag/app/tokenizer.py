"""Plain English text to Penn Treebank tokens and sentences, as the CoNLL-2000 tagger was trained on.

English only: other languages come tokenised (tokens separated by spaces) or as CoNLL-U.
The rules follow the Penn Treebank's: punctuation split off words, except in abbreviations
(U.S., Mr., Inc., Calif., No. 5, initials such as J.) and numbers (1,000.50, 10:30); clitics split
(do|n't, John|'s, ca|n't); cannot, gonna, gotta, wanna, gimme and lemme in two; double quotes
written `` when they open and '' when they close, single ones ` and '; an ellipsis (... or …)
and a dash (--, —) one token. A line that ends on an abbreviation gets a period of its own
after it (``Acme Inc. .``), as the Treebank writes a sentence that ends so.

``split_sentences`` cuts a line's tokens into sentences: after . ! or ? (and the closing
quotes and brackets after them) where the next token opens a sentence (a capital letter, an
opening quote or bracket), and after a company's abbreviation (Inc., Corp., Co., Ltd.) where
the next word is capitalised. Titles (Mr., Dr.), initials and other abbreviations never end
a sentence inside a line: ``U.S. Steel`` and ``J. Smith`` stay whole.
"""

from __future__ import annotations

import re

# Abbreviations that keep their period, as written (case matters: "no." ends a sentence, "No. 1" does not).
TITLES = ("Mr", "Mrs", "Ms", "Messrs", "Dr", "Prof", "Sen", "Rep", "Gov", "Gen", "Lt", "Col", "Sgt", "Capt",
          "Rev", "St", "Jr", "Sr")
COMPANIES = ("Inc", "Corp", "Co", "Cos", "Ltd", "Bros")
OTHER_ABBREVIATIONS = (
    "vs", "v", "etc", "Jan", "Feb", "Mar", "Apr", "Jun", "Jul", "Aug", "Sep", "Sept", "Oct", "Nov", "Dec",
    "Ala", "Ariz", "Ark", "Calif", "Colo", "Conn", "Del", "Fla", "Ga", "Ill", "Ind", "Kan", "Ky", "La", "Md",
    "Mass", "Mich", "Minn", "Miss", "Mo", "Mont", "Neb", "Nev", "Okla", "Ore", "Pa", "Tenn", "Tex", "Va",
    "Vt", "Wash", "Wis", "Wyo", "Ave", "Blvd", "Mt", "Ft", "Dept",
)
_ABBREVIATION = "|".join(sorted(TITLES + COMPANIES + OTHER_ABBREVIATIONS, key=len, reverse=True))

_TOKEN = re.compile(
    r"(?:[A-Za-z]\.){2,}"  # U.S.  e.g.
    rf"|\b(?-i:{_ABBREVIATION})\.(?!\w)"  # Mr.  Inc.  Calif.
    r"|\b(?-i:[A-Z])\.(?=\s+(?-i:[A-Z]))"  # an initial before a capitalised word: J. Smith
    r"|\b(?-i:No)\.(?=\s*\d)"  # No. 5, where "No." alone is the word no
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
    if tokens and _is_abbreviation(tokens[-1]):
        tokens.append(".")  # the sentence's own period, which the abbreviation's stands for
    return tokens


def _is_abbreviation(token: str) -> bool:
    return len(token) > 1 and token.endswith(".") and token != "..."


_ENDS = {".", "!", "?"}
_CLOSERS = {"''", "'", ")", "]", "}"}
_OPENS = {"``", "`", "(", "["}
_COMPANY_TOKENS = {name + "." for name in COMPANIES}


def split_sentences(tokens: list[str]) -> list[list[str]]:
    """The sentences of one line's tokens (see the module's docstring); a line without tokens is
    one empty sentence, so that blank lines stay in the output."""
    sentences, start = [], 0
    for i in range(len(tokens) - 1):
        token, following = tokens[i], tokens[i + 1]
        if token in _CLOSERS and i > start and (tokens[i - 1] in _ENDS or tokens[i - 1] in _CLOSERS):
            pass  # a closing quote or bracket after the end goes with the sentence it closes
        elif token not in _ENDS and token not in _COMPANY_TOKENS:
            continue
        if following in _CLOSERS:
            continue
        capitalised = following[:1].isupper()
        if capitalised or (following in _OPENS and token not in _COMPANY_TOKENS):
            if token in _COMPANY_TOKENS:
                sentences.append([*tokens[start : i + 1], "."])
            else:
                sentences.append(tokens[start : i + 1])
            start = i + 1
    sentences.append(tokens[start:])
    return sentences
