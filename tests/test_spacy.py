"""The spaCy component: found through its entry point, the Tagger's tags on Docs, the Treebank's
quotes, UPOS into pos_, sentences tagged one by one, and a config without a model refused."""

import subprocess
import sys

import pytest
import spacy
from spacy.tokens import Doc

from conftest import FIXTURES
from postag.app.spacy_component import PostagComponent
from postag.app.tagger import Tagger
from postag.data import read_conll

TEST = [words for words, _ in read_conll(FIXTURES / "test.txt")]


@pytest.fixture(scope="module")
def checkpoint(trained_run):
    return trained_run / "checkpoints" / "last.ckpt"


def test_a_blank_pipeline_finds_the_component_by_its_entry_point(checkpoint):
    code = (
        "import spacy, sys\n"
        "nlp = spacy.blank('en')\n"
        f"nlp.add_pipe('postag', config={{'checkpoint': {str(checkpoint)!r}}})\n"
        "assert 'postag' not in sys.modules or 'postag.app.spacy_component' in sys.modules\n"
        "print(' '.join(t.tag_ for t in nlp('the dog runs .')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == Tagger.load(checkpoint, device="cpu").tag(["the", "dog", "runs", "."])


def test_docs_get_the_taggers_tags(checkpoint):
    nlp = spacy.blank("en")
    nlp.add_pipe("postag", config={"checkpoint": str(checkpoint)})
    docs = list(nlp.pipe([Doc(nlp.vocab, words=words) for words in TEST], batch_size=2))
    expected = Tagger.load(checkpoint, device="cpu").tag_sentences(TEST)
    assert [[t.tag_ for t in doc] for doc in docs] == expected
    assert all(t.pos_ == "" for doc in docs for t in doc)  # a Penn Treebank model leaves UPOS alone


def test_an_exported_model_serves_the_component_alike(checkpoint, tmp_path):
    from postag.portable.export import export

    export(checkpoint, tmp_path)
    nlp = spacy.blank("en")
    nlp.add_pipe("postag", config={"onnx": str(tmp_path)})
    docs = list(nlp.pipe([Doc(nlp.vocab, words=words) for words in TEST]))
    assert [[t.tag_ for t in doc] for doc in docs] == Tagger.load(checkpoint, device="cpu").tag_sentences(TEST)


class Recorder:
    """A tagger that tags every word X and remembers what it was given."""

    def __init__(self, column="xpos", tag="X"):
        self.conllu_column, self.tag, self.seen = column, tag, []

    def tag_sentences(self, sentences):
        self.seen.extend(sentences)
        return [[self.tag] * len(words) for words in sentences]


def test_double_quotes_reach_the_tagger_as_the_treebank_writes_them():
    nlp = spacy.blank("en")
    doc = Doc(nlp.vocab, words=['"', "Go", '"', ",", "he", "said", ",", '"', "now", '"'],
              spaces=[False, False, False, True, True, True, True, False, False, False])
    recorder = Recorder()
    PostagComponent(recorder)(doc)
    assert recorder.seen == [["``", "Go", "''", ",", "he", "said", ",", "``", "now", "''"]]
    plain = Recorder()
    PostagComponent(plain, ptb_quotes=False)(doc)
    assert plain.seen[0][0] == '"' and [t.tag_ for t in doc] == ["X"] * len(doc)


def test_a_upos_model_sets_pos_and_sentences_are_tagged_one_by_one():
    nlp = spacy.blank("en")
    doc = Doc(nlp.vocab, words=["Dogs", "run", ".", "Cats", "sleep", "."],
              sent_starts=[True, False, False, True, False, False])
    recorder = Recorder(column="upos", tag="NOUN")
    PostagComponent(recorder)(doc)
    assert recorder.seen == [["Dogs", "run", "."], ["Cats", "sleep", "."]]
    assert [t.pos_ for t in doc] == ["NOUN"] * 6 and all(t.tag_ == "" for t in doc)


def test_the_component_needs_a_checkpoint_or_an_exported_model():
    nlp = spacy.blank("en")
    with pytest.raises(ValueError, match="needs either checkpoint .* or onnx"):
        nlp.add_pipe("postag")
