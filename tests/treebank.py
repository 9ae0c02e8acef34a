"""A small CoNLL-U treebank written for the tests: comments, multiword tokens, empty nodes,
Greek (a cased non-Latin script), Chinese (a script without case) and one 300-word sentence."""

from __future__ import annotations

from pathlib import Path


def token(i, form, upos, xpos="_", misc="_"):
    return f"{i}\t{form}\t{form.lower()}\t{upos}\t{xpos}\t_\t0\tdep\t_\t{misc}"


SENTENCES = {
    "en": [
        "# sent_id = en-1\n# text = The cat sleeps.",
        token(1, "The", "DET", "DT"), token(2, "cat", "NOUN", "NN"), token(3, "sleeps", "VERB", "VBZ"),
        token(4, ".", "PUNCT", "."),
    ],
    "mwt": [
        "# sent_id = en-2\n# text = I don't know.",
        token(1, "I", "PRON", "PRP"), "2-3\tdon't\t_\t_\t_\t_\t_\t_\t_\t_", token(2, "do", "AUX", "VBP"),
        token(3, "n't", "PART", "RB"), token(4, "know", "VERB", "VB"), "4.1\tknows\t_\t_\t_\t_\t_\t_\t3:dep\t_",
        token(5, ".", "PUNCT", "."),
    ],
    "el": [
        "# sent_id = el-1\n# text = Η Αθήνα είναι ΜΕΓΑΛΗ.",
        token(1, "Η", "DET", "DT"), token(2, "Αθήνα", "PROPN", "NNP"), token(3, "είναι", "AUX", "VBZ"),
        token(4, "ΜΕΓΑΛΗ", "ADJ", "JJ"), token(5, ".", "PUNCT", "."),
    ],
    "zh": [
        "# sent_id = zh-1\n# text = 我爱北京。",
        token(1, "我", "PRON", "PRP"), token(2, "爱", "VERB", "VBP"), token(3, "北京", "PROPN", "NNP"),
        token(4, "。", "PUNCT", "."),
    ],
}


def with_cell(line: str, column: int, value: str) -> str:
    """A token line with ``value`` in ``column`` (0: ID, 2: LEMMA, 5: FEATS)."""
    cells = line.split("\t")
    cells[column] = value
    return "\t".join(cells)


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def long_sentence(words: int = 300) -> list[str]:
    forms = [("the", "DET", "DT"), ("cat", "NOUN", "NN"), ("and", "CCONJ", "CC")]
    return ["# sent_id = long-1"] + [token(i + 1, *forms[i % 3]) for i in range(words)]


def write_treebank(folder: Path, name: str = "xx_test", long: bool = True) -> Path:
    """``folder`` with ``{name}-ud-{train,dev,test}.conllu``; train repeats the sentences so a model can learn them."""
    folder.mkdir(parents=True, exist_ok=True)
    blocks = list(SENTENCES.values())
    splits = {
        "train": blocks * 3 + ([long_sentence()] if long else []),
        "dev": blocks[:2],
        "test": blocks + ([long_sentence()] if long else []),
    }
    for split, sentences in splits.items():
        text = "# newdoc id = d1\n" + "\n\n".join("\n".join(lines) for lines in sentences) + "\n\n"
        (folder / f"{name}-ud-{split}.conllu").write_text(text, encoding="utf-8")
    return folder
