"""Reading corpora: CoNLL-U rules, column files, split discovery, scripts with and without case."""

import gzip

import pytest

from postag.data import (
    UNK_ID,
    ColumnReader,
    ConlluReader,
    CorpusFormatError,
    TaggingDataModule,
    Vocabularies,
    make_reader,
    word_shape,
)
from postag.data.conllu import TAG_COLUMNS, format_sentence, parse
from postag.data.corpus import numbered_lines
from postag.data.features import capitalisation

from treebank import SENTENCES, token, write_treebank


def write(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_conllu_reads_syntactic_words_skipping_comments_multiword_tokens_and_empty_nodes(tmp_path):
    path = write(tmp_path / "a.conllu", SENTENCES["mwt"] + [""] + SENTENCES["en"])
    assert ConlluReader("upos").read(path) == [
        (["I", "do", "n't", "know", "."], ["PRON", "AUX", "PART", "VERB", "PUNCT"]),
        (["The", "cat", "sleeps", "."], ["DET", "NOUN", "VERB", "PUNCT"]),
    ]
    assert ConlluReader("xpos").read(path)[0][1] == ["PRP", "VBP", "RB", "VB", "."]


def test_conllu_reads_gzip_and_a_file_without_a_final_blank_line(tmp_path):
    text = "\n".join(SENTENCES["en"])  # no newline at all at the end
    (tmp_path / "a.conllu.gz").write_bytes(gzip.compress(text.encode()))
    assert ConlluReader().read(tmp_path / "a.conllu.gz") == [(["The", "cat", "sleeps", "."], ["DET", "NOUN", "VERB", "PUNCT"])]


@pytest.mark.parametrize(
    "bad_line, message",
    [
        ("2\tcat\tcat\tNOUN\tNN\t_\t0\tdep\t_", ":3: expected 10 tab-separated columns (ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC), found 9"),
        ("2 cat cat NOUN NN _ 0 dep _ _", ":3: expected 10 tab-separated columns"),
        ("two\tcat\tcat\tNOUN\tNN\t_\t0\tdep\t_\t_", ":3: expected an ID such as 3, 3-4 (multiword token) or 3.1 (empty node) in column 1, found 'two'"),
        ("2\tcat\tcat\t\tNN\t_\t0\tdep\t_\t_", ":3: no tag in column 4 (UPOS) for 'cat'; expected a tag there (data.tag_column=upos"),
    ],
)
def test_conllu_errors_name_file_line_and_what_was_expected(tmp_path, bad_line, message):
    path = write(tmp_path / "bad.conllu", ["# sent_id = 1", token(1, "The", "DET", "DT"), bad_line])
    with pytest.raises(CorpusFormatError) as err:
        ConlluReader("upos").read(path)
    assert str(err.value).startswith(str(path)) and message in str(err.value), str(err.value)
    assert "\n" not in str(err.value)


def test_a_tag_column_without_any_tag_is_an_error_but_a_few_underscores_are_a_tag(tmp_path):
    none = write(tmp_path / "noxpos.conllu", ["# c", token(1, "The", "DET"), token(2, "cat", "NOUN")])
    with pytest.raises(CorpusFormatError, match=r"noxpos.conllu:2: no tag in column 5 \(XPOS\) for 'The' nor on any other line.*may have no XPOS"):
        ConlluReader("xpos").read(none)
    some = write(tmp_path / "some.conllu", [token(1, "About", "ADP"), token(2, "mode", "NOUN", "SG-NOM")])
    assert ConlluReader("xpos").read(some) == [(["About", "mode"], ["_", "SG-NOM"])]


def test_conllu_tag_column_must_be_one_of_its_tag_columns():
    with pytest.raises(ValueError, match="data.tag_column='deprel': expected one of upos, xpos, feats, lemma, or several"):
        make_reader("conllu", tag_column="deprel")
    with pytest.raises(ValueError, match="data.format='xml': expected conll2000, columns, conllu"):
        make_reader("xml")


def test_writing_tags_back_changes_only_the_tag_column_of_syntactic_words(tmp_path):
    path = write(tmp_path / "a.conllu", SENTENCES["mwt"])
    (sentence,) = parse(numbered_lines(path), str(path))
    lines = sentence.with_tags(["A", "B", "C", "D", "E"], TAG_COLUMNS["upos"])
    original = path.read_text().splitlines()
    changed = [i for i, (a, b) in enumerate(zip(original, lines)) if a != b]
    assert len(lines) == len(original) and changed == [sentence.word_lines[i] for i in range(5)]
    assert [line.split("\t")[3] for line in (lines[i] for i in changed)] == ["A", "B", "C", "D", "E"]
    assert [line.split("\t")[:3] for line in (lines[i] for i in changed)] == [original[i].split("\t")[:3] for i in changed]


def test_format_sentence_puts_the_tag_in_the_models_column():
    text = format_sentence(["Hi", "!"], ["INTJ", "PUNCT"], TAG_COLUMNS["upos"])
    assert text == "1\tHi\t_\tINTJ\t_\t_\t_\t_\t_\t_\n2\t!\t_\tPUNCT\t_\t_\t_\t_\t_\t_\n\n"
    assert format_sentence(["Hi"], ["UH"], TAG_COLUMNS["xpos"]).split("\t")[3:5] == ["_", "UH"]


def test_column_files_with_any_word_and_tag_columns(tmp_path):
    path = tmp_path / "cols.tsv"
    path.write_text("1\tThe\tthe\tDT\n2\tcat\tcat\tNN\n\n1 Hello hello UH\n", encoding="utf-8")
    assert ColumnReader(word_column=1, tag_column=3).read(path) == [(["The", "cat"], ["DT", "NN"]), (["Hello"], ["UH"])]
    path.write_text("1\tThe\tthe\tDT\n2\tcat\n", encoding="utf-8")
    with pytest.raises(CorpusFormatError, match=r"cols.tsv:2: expected at least 4 columns \(word in column 1, tag in column 3\), found 2: '2\\tcat'"):
        ColumnReader(word_column=1, tag_column=3).read(path)
    with pytest.raises(ValueError, match="data.word_column and data.tag_column are both 2"):
        ColumnReader(2, 2)
    with pytest.raises(ValueError, match=r"data.tag_column=-1: expected a column number"):
        ColumnReader(0, -1)


def test_a_treebank_folder_is_found_and_its_dev_split_is_the_validation_set(tmp_path):
    folder = write_treebank(tmp_path / "UD_Test", long=False)
    dm = TaggingDataModule(format="conllu", data_dir=str(folder), tag_column="upos", batch_size=2)
    dm.setup("fit")
    assert len(dm.train_set) == 12 and len(dm.val_set) == 2  # all of train trained on; dev validates
    assert "PROPN" in dm.vocab.tags and dm.vocab.conllu_column == "upos"
    dm.setup("test")
    assert len(dm.test_set) == 4


def test_without_a_dev_split_a_share_of_training_is_held_out(tmp_path):
    folder = write_treebank(tmp_path / "UD_Test", long=False)
    (folder / "xx_test-ud-dev.conllu").unlink()
    dm = TaggingDataModule(format="conllu", data_dir=str(folder), val_fraction=0.25)
    dm.setup("fit")
    assert len(dm.train_set) == 9 and len(dm.val_set) == 3


def test_explicit_files_and_missing_splits(tmp_path):
    folder = write_treebank(tmp_path / "UD_Test", long=False)
    train = folder / "xx_test-ud-train.conllu"
    dm = TaggingDataModule(format="conllu", data_dir=str(tmp_path / "elsewhere"), train_file=str(train), val_fraction=0.25)
    dm.setup("fit")
    assert len(dm.val_set) == 3  # a given train file and no dev file: no dev split is looked for
    with pytest.raises(FileNotFoundError, match=r"no test split in .*elsewhere: expected one of \*-ud-test.conllu.gz"):
        dm.setup("test")
    with pytest.raises(FileNotFoundError, match=r"data.dev_file: no such file: .*nope.conllu"):
        TaggingDataModule(format="conllu", train_file=str(train), dev_file=str(tmp_path / "nope.conllu")).setup("fit")
    (folder / "yy_other-ud-test.conllu").write_text((folder / "xx_test-ud-test.conllu").read_text())
    with pytest.raises(CorpusFormatError, match=r"2 files match \*-ud-test.conllu \(xx_test-ud-test.conllu, yy_other-ud-test.conllu\)"):
        TaggingDataModule(format="conllu", data_dir=str(folder)).setup("test")


@pytest.mark.parametrize(
    "word, expected",
    [
        ("Αθήνα", "initial"), ("ΜΕΓΑΛΗ", "upper"), ("είναι", "lower"),  # Greek
        ("Москва", "initial"), ("МОСКВА", "upper"), ("москва", "lower"),  # Cyrillic
        ("北京", "none"), ("كتاب", "none"), ("שלום", "none"), ("नमस्ते", "none"),  # no case
        ("北京Olympics", "initial"), ("iPhone", "mixed"), ("1,000", "none"), ("Paris", "initial"),
        # a titlecase letter (Lt: "ǅ") is neither upper nor lower and is left out, as caseless ones are
        ("ǅa", "lower"), ("ǅA", "upper"), ("ǅ", "none"), ("3a", "lower"), ("A3", "upper"),
    ],
)
def test_capitalisation_reads_cased_letters_of_any_script_and_ignores_caseless_ones(word, expected):
    assert capitalisation(word) == expected


def test_caseless_words_share_the_shape_of_words_without_letters():
    assert word_shape("北京") == word_shape("...") != word_shape("Paris")


def test_characters_come_from_training_and_unknown_ones_get_their_own_id():
    train = [(["Αθήνα", "北京"], ["NNP", "NNP"])]
    vocab = Vocabularies.from_training(train, train, min_freq=1)
    assert "θ" in vocab.chars and "京" in vocab.chars
    chars = vocab.encode(["Ωx"]).chars[0].tolist()
    assert chars[:2] == [UNK_ID, UNK_ID] and vocab.chars.itos[UNK_ID] == "<unk>"
