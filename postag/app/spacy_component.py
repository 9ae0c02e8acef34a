"""postag inside a spaCy pipeline: ``nlp.add_pipe("postag", config={"checkpoint": PATH})``.

The component tags each sentence of a ``Doc`` (the whole ``Doc`` when nothing has set sentence
boundaries) with a postag checkpoint, or with an exported model (``config={"onnx": DIR}``), and
writes the tags to ``token.pos_`` for a model trained on UPOS, ``token.lemma_`` for lemmas,
``token.morph`` for FEATS, ``token._.chunk`` for chunk tags (B-NP, I-NP, O), else to
``token.tag_`` (the corpus's own tags: Penn Treebank, XPOS); a joint tag (``upos+xpos+feats``,
``xpos+chunk``) sets each of its columns' attributes. spaCy finds it through
the ``spacy_factories`` entry
point, so no import is needed.

spaCy keeps a double quote as ``"`` where the Penn Treebank writes `` when it opens and ''
when it closes; ``ptb_quotes`` (on by default) hands the tagger the Treebank's forms, decided
as ``postag.app.tokenizer`` decides them: a quote opens at the start or after a space or an
opening bracket.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from spacy.language import Language
from spacy.tokens import Doc, Span, Token

from postag.data.tag_columns import joint_values, tag_column_names

OPENERS = "([{<"
# The Token attribute each kind of model sets (postag.data.conllu.TAG_COLUMNS; models of other
# corpora's tags have xpos); a joint tag's values (upos+xpos+feats) each go to their own
ATTRIBUTES = {"upos": "pos_", "xpos": "tag_", "lemma": "lemma_", "feats": "morph", "chunk": "_.chunk"}
EXTENSION = "_."  # the prefix of an attribute that is a Token extension of postag's own


@Language.factory(
    "postag",
    default_config={"checkpoint": None, "onnx": None, "device": "cpu", "ptb_quotes": True, "batch_size": 256},
)
def make_postag(
    nlp: Language, name: str, checkpoint: str | None, onnx: str | None, device: str, ptb_quotes: bool, batch_size: int
) -> PostagComponent:
    if (checkpoint is None) == (onnx is None):
        raise ValueError(f"the {name} component needs either checkpoint (a postag checkpoint) or onnx (an exported model)")
    if onnx is not None:
        from postag.portable.runtime import OnnxTagger

        tagger = OnnxTagger.load(onnx)
    else:
        from postag.app.tagger import Tagger

        tagger = Tagger.load(checkpoint, device=device)
    return PostagComponent(tagger, ptb_quotes=ptb_quotes, batch_size=batch_size)


class PostagComponent:
    """Sets ``pos_``, ``lemma_``, ``morph``, ``_.chunk`` or ``tag_`` of every token (``ATTRIBUTES``) from a postag tagger."""

    def __init__(self, tagger, ptb_quotes: bool = True, batch_size: int = 256):
        self.tagger = tagger
        self.attributes = [ATTRIBUTES[name] for name in tag_column_names(tagger.conllu_column)]
        for attribute in self.attributes:
            if attribute.startswith(EXTENSION) and not Token.has_extension(attribute[len(EXTENSION):]):
                Token.set_extension(attribute[len(EXTENSION):], default=None)
        self.ptb_quotes = ptb_quotes
        self.batch_size = batch_size

    def __call__(self, doc: Doc) -> Doc:
        return next(self.pipe([doc]))

    def pipe(self, docs: Iterable[Doc], batch_size: int | None = None) -> Iterator[Doc]:
        """Docs tagged in groups of ``batch_size``, their sentences batched together by length."""
        group: list[Doc] = []
        for doc in docs:
            group.append(doc)
            if len(group) >= (batch_size or self.batch_size):
                yield from self._tag(group)
                group = []
        yield from self._tag(group)

    def _tag(self, docs: list[Doc]) -> list[Doc]:
        spans = [span for doc in docs for span in sentences(doc)]
        words = [[self.word(token) for token in span] for span in spans]
        for span, tags in zip(spans, self.tagger.tag_sentences(words)):
            for token, tag in zip(span, tags):
                for attribute, value in zip(self.attributes, joint_values(tag, len(self.attributes))):
                    if attribute == "morph":
                        token.set_morph(None if value == "_" else value)
                    elif attribute.startswith(EXTENSION):
                        setattr(token._, attribute[len(EXTENSION):], value)
                    else:
                        setattr(token, attribute, value)
        return docs

    def word(self, token) -> str:
        """The token's text as the tagger was trained to read it."""
        if self.ptb_quotes and token.text == '"':
            before = token.doc[token.i - 1] if token.i > 0 else None
            opening = before is None or bool(before.whitespace_) or before.text in OPENERS or before.text == '"'
            return "``" if opening else "''"
        return token.text


def sentences(doc: Doc) -> list[Span]:
    """The Doc's sentences where something has set them, else the Doc as one span."""
    if doc.has_annotation("SENT_START"):
        return list(doc.sents)
    return [doc[:]] if len(doc) else []
