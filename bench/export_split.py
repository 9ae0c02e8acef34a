"""Write the sentences a postag run trains, validates and tests on as CoNLL-U files, so that
another tagger can be trained and scored on exactly the same split.

    python bench/export_split.py OUT_DIR [train.py overrides ...]
    python bench/export_split.py /tmp/conll2000-split model=best

The overrides are train.py's (the data group and the recipe: ``model=best`` sets the 2%
validation share). OUT_DIR gets ``postag-ud-train.conllu``, ``postag-ud-dev.conllu`` (the
validation sentences: the dev split, or the share held out of training) and
``postag-ud-test.conllu``, named as a UD treebank's splits are, with each tag in the column
the data module reads (CoNLL-U's UPOS or XPOS; XPOS for other formats) and ``_`` elsewhere.
"""

from __future__ import annotations

import sys
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from postag.data.conllu import TAG_COLUMNS, format_sentence  # noqa: E402

SPLIT_FILES = {"train": "train", "val": "dev", "test": "test"}


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    out_dir, overrides = Path(argv[0]), argv[1:]
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    datamodule.setup("test")
    column = TAG_COLUMNS[datamodule.vocab.conllu_column]
    out_dir.mkdir(parents=True, exist_ok=True)
    for split, name in SPLIT_FILES.items():
        sentences = datamodule.sentences[split]
        path = out_dir / f"postag-ud-{name}.conllu"
        with open(path, "w", encoding="utf-8") as out:
            for words, tags in sentences:
                out.write(format_sentence(words, tags, column))
        print(f"{path}: {len(sentences)} sentences, {sum(len(w) for w, _ in sentences)} words")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
