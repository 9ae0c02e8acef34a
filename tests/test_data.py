"""Reading CoNLL files, vocabularies, the train/validation split and batching."""

import gzip
import shutil
from pathlib import Path

import pytest
import torch

from postag.data import (
    CHECKPOINT_KEY,
    IGNORE_INDEX,
    MAX_WORD_CHARS,
    N_AFFIXES,
    N_NORMS,
    PAD_ID,
    UNK_ID,
    N_SHAPES,
    TaggingDataModule,
    CorpusFormatError,
    LengthBucketSampler,
    Example,
    UnknownTagError,
    Vocabularies,
    Vocabulary,
    WordDropoutCollate,
    word_counts,
    affixes,
    clip_word,
    norms,
    collate,
    read_conll,
    vocabularies_from_checkpoint,
    word_shape,
)

from tiny_corpus import TINY_DIR as FIXTURES


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_read_conll_plain_and_gzip_agree(tmp_path):
    plain = read_conll(FIXTURES / "train.txt")
    gz = tmp_path / "train.txt.gz"
    with open(FIXTURES / "train.txt", "rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    assert read_conll(gz) == plain
    assert len(plain) == 10
    assert plain[0] == (["The", "cat", "sat", "on", "the", "mat", "."], ["DT", "NN", "VBD", "IN", "DT", "NN", "."])


def test_read_conll_without_trailing_blank_line_and_with_crlf(tmp_path):
    path = write(tmp_path / "t.txt", "A DT B-NP\r\ndog NN I-NP\r\n\r\n\r\nran VBD B-VP")
    assert read_conll(path) == [(["A", "dog"], ["DT", "NN"]), (["ran"], ["VBD"])]


def test_malformed_line_names_file_line_and_content(tmp_path):
    path = write(tmp_path / "bad.txt", "A DT B-NP\ndog NN\n\n")
    with pytest.raises(CorpusFormatError) as err:
        read_conll(path)
    message = str(err.value)
    assert f"{path}:2:" in message
    assert "expected 3 columns" in message and "'dog NN'" in message


def test_empty_file_is_an_error(tmp_path):
    with pytest.raises(CorpusFormatError, match="no sentences found"):
        read_conll(write(tmp_path / "empty.txt", "\n\n"))


def test_non_utf8_file_is_an_error(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("caf\u00e9 NN B-NP\n".encode("latin-1"))
    with pytest.raises(CorpusFormatError, match="latin1.txt:1: not UTF-8"):
        read_conll(path)


def test_corrupt_gzip_is_an_error(tmp_path):
    path = tmp_path / "train.txt.gz"
    path.write_bytes(gzip.compress(b"A DT B-NP\n" * 1000)[:40])
    with pytest.raises(CorpusFormatError, match="not a complete gzip file"):
        read_conll(path)


def test_word_vocabulary_specials_and_min_freq():
    sentences = [(["a", "b", "a"], ["X", "Y", "X"]), (["c", "a", "b"], ["Z", "X", "Y"])]
    vocab = Vocabulary.for_words(sentences)
    assert vocab.itos[:2] == ["<pad>", "<unk>"] and len(vocab) == 5
    assert vocab.encode(["a", "never-seen"]) == [vocab.stoi["a"], UNK_ID]
    assert "c" not in Vocabulary.for_words(sentences, min_freq=2)
    assert Vocabulary.for_tags(sentences).itos == ["X", "Y", "Z"]


@pytest.fixture
def fixture_datamodule():
    dm = TaggingDataModule(data_dir=str(FIXTURES), batch_size=4, val_fraction=0.2, download=False)
    dm.prepare_data()
    dm.setup()
    return dm


def test_vocabulary_comes_from_training_sentences_only(fixture_datamodule):
    dm = fixture_datamodule
    train_words = {w for example in dm.train_set for w in example.words.tolist()}
    # Every id in training is a real word; test-only words map to <unk>.
    assert UNK_ID not in train_words
    test_only = {"Analysts"}  # occurs in test.txt, never in train.txt
    for word in test_only:
        assert word not in dm.vocab.words
    assert any(UNK_ID in example.words for example in dm.test_set)
    # Validation sentences are held out of the vocabulary too.
    assert any(UNK_ID in example.words for example in dm.val_set)
    assert len(dm.train_set) == 8 and len(dm.val_set) == 2 and len(dm.test_set) == 3


def test_split_is_reproducible_and_seeded():
    def val_ids(seed):
        dm = TaggingDataModule(data_dir=str(FIXTURES), val_fraction=0.3, split_seed=seed, download=False)
        dm.setup("fit")
        return [example.words.tolist() for example in dm.val_set]

    assert val_ids(1) == val_ids(1)
    assert any(val_ids(1) != val_ids(s) for s in (2, 3, 4))


def test_data_mostly_under_unseen_tags_is_refused(tmp_path):
    test_file = write(tmp_path / "odd.txt", "Hello UH O\nthere UH O\n. . O\n\n")
    dm = TaggingDataModule(data_dir=str(FIXTURES), test_file=str(test_file), download=False)
    with pytest.raises(UnknownTagError, match="odd.txt: 2 of 3 tokens have tags the model never learned \\(UH\\)"):
        dm.setup("test")


def test_a_few_unseen_gold_tags_are_counted_labelled_past_the_model_and_warned_once(tmp_path, caplog):
    test_file = write(tmp_path / "odd.txt", "Hello UH O\nthe DT B-NP\ncat NN I-NP\n. . O\n\n")
    dm = TaggingDataModule(data_dir=str(FIXTURES), test_file=str(test_file), download=False)
    with caplog.at_level("WARNING"):
        dm.setup("test")
    assert dm.unseen_tags["test"] == {"UH": 1}
    labels = dm.test_set[0].tags.tolist()
    assert labels[0] == dm.vocab.unseen_tag_id == len(dm.vocab.tags)  # one past the model's tags
    assert labels[1:] == dm.vocab.tags.encode(["DT", "NN", "."])
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "odd.txt: 1 tokens have 1 tags never seen in training (UH)" in warnings[0]


def test_missing_data_without_download_names_the_directory(tmp_path):
    dm = TaggingDataModule(data_dir=str(tmp_path), download=False)
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        dm.prepare_data()


def example(words, tags, chars=None):
    chars = chars or [[7] * (i + 1) for i in range(len(words))]
    return Example(words, tags, chars, [1] * len(words), [2] * len(words))


def test_collate_pads_and_masks():
    batch = collate([example([5, 6, 7], [1, 2, 3]), example([8], [4], chars=[[3, 4, 5, 6]])])
    assert batch.tokens.tolist() == [[5, 6, 7], [8, PAD_ID, PAD_ID]]
    assert batch.labels.tolist() == [[1, 2, 3], [4, IGNORE_INDEX, IGNORE_INDEX]]
    assert batch.mask.dtype == torch.bool
    assert batch.mask.tolist() == [[True, True, True], [True, False, False]]
    assert batch.chars.shape == (2, 3, 4)  # padded to the longest sentence and the longest word
    assert batch.chars[0, 1].tolist() == [7, 7, PAD_ID, PAD_ID]
    assert batch.chars[1, 0].tolist() == [3, 4, 5, 6] and (batch.chars[1, 1:] == PAD_ID).all()
    assert batch.shapes.tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch.suffixes.tolist() == [[2, 2, 2], [2, PAD_ID, PAD_ID]]


def test_collate_pads_mixed_char_widths_and_unlabelled_sentences():
    wide = Example(
        words=torch.tensor([5, 6]), tags=torch.tensor([], dtype=torch.long),
        chars=torch.tensor([[3] * 4 + [PAD_ID] * 16, [4] + [PAD_ID] * 19]),
        shapes=torch.tensor([1, 1]), suffixes=torch.tensor([2, 2]),
    )
    narrow = example([7], [], chars=[[9, 9]])  # hand-made: characters padded only to its own width
    batch = collate([wide, narrow])
    assert batch.chars.shape == (2, 2, 4)
    assert batch.chars[0].tolist() == [[3, 3, 3, 3], [4, 0, 0, 0]]
    assert batch.chars[1].tolist() == [[9, 9, 0, 0], [0, 0, 0, 0]]  # then the padding token
    assert batch.labels.tolist() == [[IGNORE_INDEX] * 2] * 2
    assert batch.tokens.tolist() == [[5, 6], [7, PAD_ID]]


def test_evaluation_batches_respect_a_token_budget():
    lengths = [50, 3, 40, 4, 5, 30, 2, 6, 120]
    batches = list(LengthBucketSampler(lengths, batch_size=4, shuffle=False, max_tokens=100))
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    assert [[lengths[i] for i in b] for b in batches] == [[120], [50, 40], [30, 6, 5], [4, 3, 2]]
    # a sentence longer than the budget still gets a batch of its own; no budget: batch_size only
    assert [len(b) for b in LengthBucketSampler(lengths, 4, shuffle=False)] == [4, 4, 1]
    with pytest.raises(ValueError, match="max_tokens"):
        LengthBucketSampler(lengths, 4, shuffle=False, max_tokens=0)


def test_mask_comes_from_lengths_not_token_ids():
    # A real token whose id happens to equal the padding id stays a real token.
    batch = collate([example([PAD_ID, 3], [0, 1])])
    assert batch.mask.tolist() == [[True, True]]


def test_word_dropout_touches_only_real_tokens():
    torch.manual_seed(0)
    examples = [example(list(range(2, 40)), [0] * 38), example([7, 8], [0, 0])]
    batch = WordDropoutCollate(0.5)(examples)
    replaced = batch.tokens == UNK_ID
    assert replaced.any()
    assert not (replaced & ~batch.mask).any()
    assert (batch.tokens[1, 2:] == PAD_ID).all()
    assert torch.equal(batch.chars, collate(examples).chars)  # characters stay visible
    assert torch.equal(WordDropoutCollate(0.0)(examples).tokens, collate(examples).tokens)


def test_word_dropout_hides_a_replaced_words_lowercase_form_half_the_time_and_its_hyphen_part_never():
    torch.manual_seed(0)
    words = list(range(2, 402))
    lowercase = [[w + 1000, w + 2000] for w in words]  # (S, N_NORMS): a lowercase form and a hyphen part each
    examples = [Example(words=words, tags=[0] * 400, chars=[[2]] * 400, shapes=[1] * 400, suffixes=[2] * 400,
                        norms=lowercase)] * 20
    counts = torch.ones(500, dtype=torch.long)
    for dropout in (WordDropoutCollate(0.5), WordDropoutCollate(0.2, rare_alpha=1.0, counts=counts)):
        batch = dropout(examples)
        replaced = batch.tokens == UNK_ID  # (B, S)
        hidden = batch.norms[..., 0] == UNK_ID
        assert not (hidden & ~replaced).any()  # only a replaced word loses its lowercase form
        share = hidden[replaced].float().mean().item()
        assert abs(share - WordDropoutCollate.NORM_DROP) < 0.03
        assert torch.equal(batch.norms[..., 1], collate(examples).norms[..., 1])
    # one draw a token: which words are replaced is what the seed gave before lowercase forms
    torch.manual_seed(1)
    replaced = WordDropoutCollate(0.5)(examples).tokens == UNK_ID
    torch.manual_seed(1)
    assert torch.equal(replaced, torch.rand(replaced.shape) < 0.5)
    # a word without a lowercase form (PAD_ID) keeps none
    bare = Example(words=[5] * 400, tags=[0] * 400, chars=[[2]] * 400, shapes=[1] * 400, suffixes=[2] * 400)
    assert (WordDropoutCollate(0.9)([bare]).norms == PAD_ID).all()


def test_rare_word_dropout_follows_alpha_over_alpha_plus_count():
    torch.manual_seed(0)
    # word 2 seen once, word 3 seen 99 times in training: alpha=1 gives 1/2 and 1/100
    counts = torch.tensor([0, 0, 1, 99])
    collate_fn = WordDropoutCollate(0.0, rare_alpha=1.0, counts=counts)
    examples = [example([2] * 200 + [3] * 200, [0] * 400) for _ in range(50)]
    batch = collate_fn(examples)
    rare_share = (batch.tokens[:, :200] == UNK_ID).float().mean().item()
    frequent_share = (batch.tokens[:, 200:] == UNK_ID).float().mean().item()
    assert abs(rare_share - 0.5) < 0.02
    assert abs(frequent_share - 0.01) < 0.005
    # with the uniform rate too, a token survives both: (1 - 0.2) * (1 - 1/2) = 0.4
    both = WordDropoutCollate(0.2, rare_alpha=1.0, counts=counts)(examples)
    assert abs((both.tokens[:, :200] == UNK_ID).float().mean().item() - 0.6) < 0.02
    padded = WordDropoutCollate(0.0, rare_alpha=100.0, counts=counts)([example([2, 2, 2], [0] * 3), example([2], [0])])
    assert (padded.tokens[1, 1:] == PAD_ID).all()
    with pytest.raises(ValueError, match="count"):
        WordDropoutCollate(0.0, rare_alpha=1.0)


def test_hiding_spelling_follows_count_over_count_plus_beta_among_replaced_words_only():
    torch.manual_seed(0)
    # word 2 seen once, word 3 seen 99 times: beta=1 hides 1/2 and 99/100 of their replacements
    counts = torch.tensor([0, 0, 1, 99])
    words = [2] * 200 + [3] * 200
    affixes, norms = [[4, 5]] * 400, [[6, 7]] * 400
    examples = [
        Example(words=words, tags=[0] * 400, chars=[[8, 9]] * 400, shapes=[1] * 400, suffixes=[3] * 400,
                affixes=[a + [PAD_ID] * (N_AFFIXES - 2) for a in affixes], norms=norms)
        for _ in range(50)
    ]
    plain = collate(examples)
    batch = WordDropoutCollate(0.5, counts=counts, hide_spelling=1.0)(examples)
    replaced = batch.tokens == UNK_ID  # (B, S)
    hidden = (batch.chars == PAD_ID).all(dim=-1)  # (B, S)
    assert not (hidden & ~replaced).any()  # only a replaced word can lose its spelling
    assert abs(replaced.float().mean().item() - 0.5) < 0.01  # which words are replaced is unchanged
    assert abs(hidden[:, :200][replaced[:, :200]].float().mean().item() - 0.5) < 0.03
    assert abs(hidden[:, 200:][replaced[:, 200:]].float().mean().item() - 0.99) < 0.01
    # a hidden word keeps nothing of its spelling; every other word keeps all of it
    for field, fill in (("shapes", 0), ("suffixes", PAD_ID)):
        assert (getattr(batch, field)[hidden] == fill).all()
        assert torch.equal(getattr(batch, field)[~hidden], getattr(plain, field)[~hidden])
    for field in ("chars", "affixes", "norms"):
        assert (getattr(batch, field)[hidden] == PAD_ID).all()
    assert torch.equal(batch.chars[~hidden], plain.chars[~hidden])
    assert torch.equal(batch.affixes[~hidden], plain.affixes[~hidden])
    assert torch.equal(batch.norms[~hidden][:, 1], plain.norms[~hidden][:, 1])
    # off (beta 0), the random stream and so the replaced words are those of plain word dropout
    torch.manual_seed(1)
    off = WordDropoutCollate(0.5, counts=counts, hide_spelling=0.0)(examples)
    torch.manual_seed(1)
    assert torch.equal(off.tokens, WordDropoutCollate(0.5)(examples).tokens)
    assert torch.equal(off.chars, plain.chars)
    with pytest.raises(ValueError, match="count"):
        WordDropoutCollate(0.1, hide_spelling=1.0)


def test_word_counts_counts_training_ids():
    counts = word_counts([example([2, 3, 3], [0] * 3), example([3, 5], [0, 0])], vocab_size=7)
    assert counts.tolist() == [0, 0, 1, 3, 0, 1, 0]


@pytest.mark.parametrize(
    "word, capitalisation, digit, hyphen",
    [
        ("cat", 0, 0, 0),
        ("London", 1, 0, 0),
        ("IBM", 2, 0, 0),
        ("McDonald", 3, 0, 0),
        ("1,200", 4, 1, 0),
        ("well-known", 0, 0, 1),
        ("F-16", 2, 1, 1),
        (".", 4, 0, 0),
        ("x2", 0, 1, 0),
        ("²", 4, 1, 0),  # a digit that is no letter, of no case
    ],
)
def test_word_shape(word, capitalisation, digit, hyphen):
    shape = word_shape(word)
    assert shape == 1 + capitalisation * 4 + 2 * digit + hyphen
    assert 1 <= shape < N_SHAPES


def test_long_words_keep_both_ends():
    word = "antidisestablishmentarianism"
    clipped = clip_word(word)
    assert len(clipped) == 20 and clipped.startswith("antidisest") and clipped.endswith("tarianism"[-10:])
    assert clip_word("short") == "short"


def test_unseen_word_keeps_its_characters_suffix_and_shape():
    train = [(["walked", "Paris"], ["VBD", "NNP"])]
    vocab = Vocabularies.from_training(train, train, min_freq=1)
    encoded = vocab.encode(["talked", "Rome"])
    assert encoded.words.tolist() == [UNK_ID, UNK_ID]
    assert encoded.suffixes[0] == vocab.suffixes.stoi["ked"]
    assert encoded.chars[0, 1:6].tolist() == vocab.chars.encode("alked")
    assert encoded.chars.shape == (2, MAX_WORD_CHARS)  # one width for all, so batches stack in one call
    assert (encoded.chars[:, 6:] == PAD_ID).all()
    assert collate([encoded]).chars.shape == (1, 2, 6)  # the batch keeps only the longest word's columns
    assert encoded.shapes.tolist() == [word_shape("walked"), word_shape("Paris")]
    # "talked" shares walked's suffixes; its prefixes are unknown; "Rome" has no prefix or suffix seen
    assert encoded.affixes[0].tolist() == [UNK_ID] * 4 + vocab.affixes.encode(["-d", "-ed", "-ked", "-lked"])
    assert encoded.affixes[1].tolist() == [UNK_ID] * 8
    assert collate([encoded]).affixes.shape == (1, 2, N_AFFIXES)


def test_affixes_are_lowercased_prefixes_and_suffixes_up_to_four_letters():
    assert affixes("Walked") == ["w-", "wa-", "wal-", "walk-", "-d", "-ed", "-ked", "-lked"]
    assert affixes("Οι") == ["ο-", "οι-", None, None, "-ι", "-οι", None, None]  # Greek lowercases too
    assert len(affixes("a")) == N_AFFIXES and affixes("a")[1:4] == [None] * 3


def test_hand_made_examples_without_affixes_batch_with_padding_affixes():
    example = Example(words=[2, 3], tags=[0, 0], chars=[[2], [3]], shapes=[1, 1], suffixes=[2, 2])
    shorter = Example(words=[2], tags=[0], chars=[[2]], shapes=[1], suffixes=[2])
    batch = collate([example, shorter])
    assert batch.affixes.shape == (2, 2, N_AFFIXES) and (batch.affixes == PAD_ID).all()
    assert batch.norms.shape == (2, 2, N_NORMS) and (batch.norms == PAD_ID).all()


def test_differing_vocabularies_skips_only_a_vocabulary_the_older_state_lacks():
    from postag.data.vocab import differing_vocabularies

    train = [(["walked", "Paris"], ["VBD", "NNP"])]
    now = Vocabularies.from_training(train, train, min_freq=1).state_dict()
    assert differing_vocabularies(now, now) == []
    older = {name: value for name, value in now.items() if name != "affixes"}  # a checkpoint before affixes
    assert differing_vocabularies(older, now) == []
    assert differing_vocabularies({**now, "affixes": []}, now) == []  # loaded from such a checkpoint
    other = Vocabularies.from_training([(["talked"], ["VBD"])], train, min_freq=1).state_dict()
    assert differing_vocabularies(other, now) == ["words", "chars", "suffixes", "affixes", "norms"]


def test_checkpoints_from_before_affixes_load_with_every_affix_unknown():
    train = [(["walked"], ["VBD"])]
    state = Vocabularies.from_training(train, train, min_freq=1).state_dict()
    del state["affixes"]
    old = Vocabularies.from_state_dict(state)
    assert len(old.affixes) == 0 and old.encode(["walked"]).affixes.tolist() == [[UNK_ID] * N_AFFIXES]


def test_norms_are_the_lowercased_word_and_its_part_after_the_last_hyphen():
    assert norms("Stocks") == ["stocks", None]
    assert norms("Lung-Cancer") == ["lung-cancer", "cancer"]
    assert norms("balance-of-payments") == ["balance-of-payments", "payments"]
    assert norms("anti-") == ["anti-", None] and norms("-") == ["-", None]  # nothing after the hyphen
    assert norms("ΟΙ") == ["οι", None]  # Greek lowercases too
    assert len(norms("a")) == N_NORMS


def test_unseen_words_find_their_lowercase_form_and_hyphen_part_among_the_lowercased_training_words():
    train = [(["The", "stocks", "fell", "on", "lung-cancer", "Cancer"], ["DT", "NNS", "VBD", "IN", "NN", "NN"])]
    vocab = Vocabularies.from_training(train, train, min_freq=1)
    assert vocab.norms.itos[2:] == sorted({"the", "stocks", "fell", "on", "lung-cancer", "cancer"})
    encoded = vocab.encode(["Stocks", "skin-cancer", "THE", "cats", "x-"])
    assert encoded.words.tolist() == [UNK_ID] * 5
    assert encoded.norms.tolist() == [
        [vocab.norms.stoi["stocks"], PAD_ID],
        [UNK_ID, vocab.norms.stoi["cancer"]],
        [vocab.norms.stoi["the"], PAD_ID],
        [UNK_ID, PAD_ID],
        [UNK_ID, PAD_ID],
    ]
    assert collate([encoded]).norms.shape == (1, 5, N_NORMS)
    assert vocab.encode_batch([["Stocks", "skin-cancer"], ["THE"]]).norms.tolist() == [
        encoded.norms[:2].tolist(), [encoded.norms[2].tolist(), [PAD_ID, PAD_ID]]
    ]


def test_checkpoints_from_before_norms_load_with_every_norm_unknown():
    train = [(["walked"], ["VBD"])]
    state = Vocabularies.from_training(train, train, min_freq=1).state_dict()
    del state["norms"]
    old = Vocabularies.from_state_dict(state)
    assert len(old.norms) == 0 and old.encode(["Walked"]).norms.tolist() == [[UNK_ID, PAD_ID]]


def test_loaders_yield_padded_batches(fixture_datamodule):
    batch = next(iter(fixture_datamodule.train_dataloader()))
    assert batch.tokens.shape == batch.labels.shape == batch.mask.shape
    assert batch.tokens.shape[0] == 4
    assert ((batch.labels == IGNORE_INDEX) == ~batch.mask).all()


def test_state_dict_carries_the_batch_seed_and_vocabularies_round_trip(fixture_datamodule):
    state = fixture_datamodule.state_dict()
    assert set(state) == {"batch_seed"}  # the vocabularies travel with the model
    restored = TaggingDataModule(data_dir="unused")
    restored.load_state_dict(state)
    assert restored.batch_seed == fixture_datamodule.batch_seed
    vocab = fixture_datamodule.vocab
    for key in (CHECKPOINT_KEY, "CoNLL2000DataModule"):  # today's key, and the one checkpoints had before it
        again = vocabularies_from_checkpoint({key: vocab.state_dict()})
        assert again.state_dict() == vocab.state_dict()
    with pytest.raises(ValueError, match="no postag vocabulary"):
        vocabularies_from_checkpoint({"state_dict": {}})


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"batch_size": 0}, "data.batch_size must be at least 1"),
        ({"val_fraction": 1.0}, "data.val_fraction"),
        ({"min_freq": 0}, "data.min_freq"),
        ({"unk_replace": 1.0}, "data.unk_replace"),
        ({"unk_rare_alpha": -1.0}, "data.unk_rare_alpha"),
        ({"unk_hide_spelling": -1.0}, "data.unk_hide_spelling"),
    ],
)
def test_invalid_datamodule_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TaggingDataModule(**kwargs)


def _encoded_one_word_at_a_time(vocab: Vocabularies, words: list[str]) -> list[list[int]]:
    """Each word's id, shape, suffix id, affix ids, lowercase-form ids and character row, worked out
    from the definitions."""
    rows = []
    for word in words:
        chars = vocab.chars.encode(clip_word(word))
        lower = word.lower()
        affix_ids = [
            vocab.affixes.stoi.get(affix, UNK_ID) if len(word) >= n else PAD_ID
            for affix, n in [(lower[:n] + "-", n) for n in (1, 2, 3, 4)] + [("-" + lower[-n:], n) for n in (1, 2, 3, 4)]
        ]
        hyphen_part = lower.split("-")[-1] if "-" in lower else ""
        norm_ids = [
            vocab.norms.stoi.get(lower, UNK_ID), vocab.norms.stoi.get(hyphen_part, UNK_ID) if hyphen_part else PAD_ID
        ]
        rows.append(
            [vocab.words.stoi.get(word, UNK_ID), word_shape(word), vocab.suffixes.stoi.get(word[-3:].lower(), UNK_ID)]
            + affix_ids
            + norm_ids
            + chars
            + [PAD_ID] * (MAX_WORD_CHARS - len(chars))
        )
    return rows


def test_encoding_reuses_words_and_gives_what_the_definitions_give(monkeypatch):
    train = [(["The", "cat", "sat", "on", "the", "mat", "."], ["DT", "NN", "VBD", "IN", "DT", "NN", "."])]
    vocab = Vocabularies.from_training(train, train, min_freq=1)
    # Known, unknown, repeated, empty, over-long, digits and hyphens, characters never seen.
    words = ["The", "cat", "dog", "cat", "", "antidisestablishmentarianism", "3-D", "Zoë", "the", "dog"]
    monkeypatch.setattr(Vocabularies, "WORD_CACHE_SIZE", 4)  # emptied twice on the way
    for _ in range(2):  # the second time round, words come from the cache
        encoded = vocab.encode(words, ["DT"] * len(words))
        expected = _encoded_one_word_at_a_time(vocab, words)
        assert encoded.words.tolist() == [row[0] for row in expected]
        assert encoded.shapes.tolist() == [row[1] for row in expected]
        assert encoded.suffixes.tolist() == [row[2] for row in expected]
        assert encoded.affixes.tolist() == [row[3:11] for row in expected]
        assert encoded.norms.tolist() == [row[11:13] for row in expected]
        assert encoded.chars.tolist() == [row[13:] for row in expected]
        assert encoded.tags.tolist() == [vocab.tags.stoi["DT"]] * len(words)
        assert all(t.dtype == torch.long for t in encoded)
        assert len(vocab._word_records) <= 4
    batch = collate([encoded, vocab.encode(["cat"])])
    assert batch.tokens[0].tolist() == encoded.words.tolist()
    assert batch.tokens[1].tolist() == [vocab.words.stoi["cat"]] + [PAD_ID] * (len(words) - 1)


def test_an_empty_sentence_encodes_to_empty_fields_of_the_usual_shapes():
    train = [(["a"], ["DT"])]
    empty = Vocabularies.from_training(train, train, min_freq=1).encode([])
    assert empty.words.shape == empty.shapes.shape == empty.suffixes.shape == empty.tags.shape == (0,)
    assert empty.chars.shape == (0, MAX_WORD_CHARS)


@pytest.mark.parametrize(
    "sentences",
    [
        [["The", "cat", "sat", "."], ["A", "dog"], ["antidisestablishmentarianism", "3-D", "Zoë"]],
        [["dog"], [], ["The", "mat"]],  # an empty sentence among others
        [[], []],  # nothing but empty sentences
    ],
)
def test_encode_batch_gives_the_batch_that_encoding_and_collating_give(sentences):
    train = [(["The", "cat", "sat", "on", "the", "mat", "."], ["DT", "NN", "VBD", "IN", "DT", "NN", "."])]
    vocab = Vocabularies.from_training(train, train, min_freq=1)
    batch = vocab.encode_batch(sentences)
    expected = collate([vocab.encode(words) for words in sentences])
    for name in ("tokens", "labels", "mask", "chars", "shapes", "suffixes"):
        got, want = getattr(batch, name), getattr(expected, name)
        assert got.dtype == want.dtype and got.shape == want.shape, name
        assert torch.equal(got, want), name


def test_encode_batch_needs_a_sentence():
    train = [(["a"], ["DT"])]
    with pytest.raises(ValueError, match="at least one sentence"):
        Vocabularies.from_training(train, train, min_freq=1).encode_batch([])


@pytest.mark.parametrize(
    "batch_size, max_tokens, window", [(2, None, None), (100, 7, None), (1, 1, None), (3, 12, None), (100, None, 4),
                                       (3, 30, 6)]
)
def test_longest_first_batches_keep_their_limits_and_cover_every_sentence_once(batch_size, max_tokens, window):
    from postag.data.buckets import longest_first

    lengths = [5, 1, 3, 3, 8, 2, 2, 7, 1]
    batches = longest_first(lengths, batch_size, max_tokens, window=window)
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    for batch in batches:
        assert len(batch) <= batch_size
        longest = max(lengths[i] for i in batch)
        assert len(batch) == 1 or max_tokens is None or len(batch) * longest <= max_tokens
        assert lengths[batch[0]] == longest  # longest first: its length sizes the batch
        # a sentence past the window (tagged in windows planned for its batch's length) alone
        assert window is None or len(batch) == 1 or longest <= window
    if window == 4:
        assert [[lengths[i] for i in batch] for batch in batches] == [[8], [7], [5], [3, 3, 2, 2, 1, 1]]
    sampler = LengthBucketSampler(lengths, batch_size, shuffle=False, max_tokens=max_tokens, window=window)
    assert batches == list(sampler)


def test_the_warning_lists_the_most_frequent_unseen_tags_comma_separated(tmp_path, caplog):
    # twelve unseen tags among enough known ones that the data is not refused; X0 the most frequent
    lines = [f"w{i} X{i} O" for i in range(12)] + ["again X0 O"] + ["the DT B-NP"] * 120
    test_file = write(tmp_path / "odd.txt", "\n".join(lines) + "\n\n")
    dm = TaggingDataModule(data_dir=str(FIXTURES), test_file=str(test_file), download=False)
    with caplog.at_level("WARNING"):
        dm.setup("test")
    (warning,) = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert "13 tokens have 12 tags never seen in training (X0, X1, X2, X3, X4, X5, X6, X7, X8, X9, ...)" in warning
