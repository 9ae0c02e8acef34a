"""Word features: the character CNN against torch's Conv1d and direct computations, the
distinct-word shortcut against torch.unique and per-token encoding, and the sum of the parts."""

import pytest
import torch

from postag.network.word_features import CharCNN, PackedChars, WordFeatures, unique_rows


@pytest.mark.parametrize("kernel_sizes", [(3,), (2, 3, 4, 5)])
def test_char_cnn_ignores_character_padding(kernel_sizes):
    cnn = CharCNN(char_vocab_size=20, char_n=6, hidden_n=8, kernel_sizes=kernel_sizes).eval()
    word = torch.tensor([[[3, 4, 5]]])  # (B=1, S=1, W=3)
    wider = torch.tensor([[[3, 4, 5, 0, 0, 0]]])  # same word padded to a longer batch word
    torch.testing.assert_close(cnn(word), cnn(wider))
    assert cnn(torch.randint(1, 20, (2, 4, 7))).shape == (2, 4, 8)


@pytest.mark.parametrize("kernel_sizes", [(3,), (2, 3, 4, 5)])
def test_char_cnn_from_packed_characters_equals_forward(kernel_sizes):
    """The ONNX graph's way in: each distinct word's real characters once, found outside the network."""
    torch.manual_seed(0)
    cnn = CharCNN(char_vocab_size=20, char_n=6, hidden_n=8, kernel_sizes=kernel_sizes).eval()
    chars = torch.randint(1, 20, (3, 5, 7))
    chars[:, :, 4:] = 0  # words of at most 4 characters
    chars[0, 1, 1:] = 0  # a one-character word
    chars[1, 0] = chars[0, 0]  # a word twice
    chars[2, 3:] = 0  # padding tokens
    packed = PackedChars.of(chars)
    distinct = {tuple(w) for w in chars.flatten(0, 1).tolist() if w[0]}
    assert int(packed.word.max()) == len(distinct) and packed.ids.numel() == sum(sum(c > 0 for c in w) for w in distinct)
    assert packed.index[1, 0] == packed.index[0, 0] and (packed.index[2, 3:] == 0).all()
    # each distinct word's characters read back through its slots, the word's number among them
    letters = torch.cat([packed.ids, packed.ids.new_zeros(1)])[packed.slots]  # (U, L)
    assert {tuple(c for c in w if c) for w in letters.tolist()} == {tuple(c for c in w if c) for w in distinct}
    assert (packed.word[packed.slots[:, 0]] == torch.arange(1, len(distinct) + 1)).all()
    assert packed.slots.shape == (len(distinct), 4)  # as wide as the longest word
    with torch.no_grad():
        torch.testing.assert_close(cnn(packed), cnn(chars))


def test_char_cnn_widths_match_an_explicit_window_computation():
    torch.manual_seed(0)
    cnn = CharCNN(char_vocab_size=20, char_n=4, hidden_n=5, kernel_sizes=(2, 3, 4)).eval()
    word = [7, 3, 9, 12, 4]
    emb = cnn.embedding(torch.tensor(word))  # (W, C)
    pooled = []
    for k, conv in zip((2, 3, 4), cnn.convs):
        # window i covers characters i - (k-1)//2 .. i + k//2; outside the word is zero
        padded = torch.cat([torch.zeros((k - 1) // 2, 4), emb, torch.zeros(k // 2, 4)])
        windows = torch.stack([padded[i : i + k] for i in range(len(word))])  # (W, k, C)
        scores = torch.einsum("wkc,hck->wh", windows, conv.weight) + conv.bias  # (W, H)
        pooled.append(scores.clamp_min(0).amax(dim=0))
    expected = cnn.out(torch.cat(pooled))
    torch.testing.assert_close(cnn(torch.tensor([[word]]))[0, 0], expected)


@pytest.mark.parametrize("kernel_sizes", [(1,), (3,), (2, 3, 4, 5)])
def test_char_cnn_matches_torch_conv1d_over_padded_words_in_values_and_gradients(kernel_sizes):
    # The reference: torch's Conv1d over every position of the padded words, ReLU, then the
    # maximum over each word's own characters only.
    import torch.nn.functional as F

    torch.manual_seed(0)
    cnn = CharCNN(char_vocab_size=30, char_n=6, hidden_n=8, kernel_sizes=kernel_sizes)
    lengths = torch.tensor([1, 2, 3, 7, 5, 1, 4])
    words = torch.randint(1, 30, (7, 7)).masked_fill(torch.arange(7) >= lengths[:, None], 0)  # (N, W)

    def reference(words):
        x = cnn.embedding(words).transpose(1, 2)  # (N, C, W)
        pooled = []
        for k, conv in zip(kernel_sizes, cnn.convs):
            y = torch.relu(conv(F.pad(x, ((k - 1) // 2, k // 2))))  # (N, H, W)
            pooled.append(y.masked_fill((words == 0)[:, None, :], float("-inf")).amax(dim=-1))
        return cnn.out(torch.cat(pooled, dim=-1))

    weights = torch.linspace(-1, 1, 7 * 8).view(7, 8)
    got = cnn.word_vectors(words)
    got_grads = torch.autograd.grad((got * weights).sum(), list(cnn.parameters()))
    expected = reference(words)
    expected_grads = torch.autograd.grad((expected * weights).sum(), list(cnn.parameters()))
    torch.testing.assert_close(got, expected)
    for got_grad, expected_grad in zip(got_grads, expected_grads):
        torch.testing.assert_close(got_grad, expected_grad)


@pytest.mark.parametrize(
    "count, width, n_values",
    [(0, 4, 10), (1, 1, 2), (300, 20, 90), (300, 3, 2), (500, 40, 2**20), (200, 9, 2**40)],
)
def test_unique_rows_equals_torch_unique_over_rows(count, width, n_values):
    generator = torch.Generator().manual_seed(count + width)
    rows = torch.randint(0, min(n_values, 3), (count, width), generator=generator)  # many repeats
    rows[: count // 2] = torch.randint(0, n_values, (count // 2, width), generator=generator)
    expected_rows, expected_index = torch.unique(rows, dim=0, return_inverse=True)
    got_rows, got_index = unique_rows(rows, n_values)
    assert torch.equal(got_rows, expected_rows) and torch.equal(got_index, expected_index)


def test_unique_rows_refuses_ids_too_large_for_its_key():
    with pytest.raises(ValueError, match="62-bit key"):
        unique_rows(torch.zeros(2, 3, dtype=torch.long), 2**62)
    with pytest.raises(ValueError, match="62-bit key"):
        unique_rows(torch.zeros(2**12, 3, dtype=torch.long), 2**51)  # a rank of 13 bits and 51-bit ids


def test_char_cnn_loads_a_single_width_state_dict_with_the_old_names():
    cnn = CharCNN(char_vocab_size=20, char_n=6, hidden_n=8)
    old = {k.replace("convs.0.", "conv."): v for k, v in cnn.state_dict().items()}
    assert "conv.weight" in old
    fresh = CharCNN(char_vocab_size=20, char_n=6, hidden_n=8)
    fresh.load_state_dict(old)
    chars = torch.randint(1, 20, (2, 3, 5))
    torch.testing.assert_close(fresh(chars), cnn(chars))
    with pytest.raises(ValueError, match="kernel sizes"):
        CharCNN(char_vocab_size=20, char_n=6, hidden_n=8, kernel_sizes=())


def test_word_features_sum_the_switched_on_parts_and_train():
    features = WordFeatures(hidden_n=8, char_vocab_size=20, char_n=4, n_shapes=5, suffix_vocab_size=9)
    chars = torch.randint(1, 20, (2, 3, 5))
    shapes = torch.randint(1, 5, (2, 3))
    suffixes = torch.randint(1, 9, (2, 3))
    out = features(chars, shapes, suffixes)
    expected = features.chars(chars) + features.shape(shapes) + features.suffix(suffixes)
    torch.testing.assert_close(out, expected)
    out.pow(2).sum().backward()
    for name, param in features.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name
    assert WordFeatures(hidden_n=8)(chars, shapes, suffixes) is None


def test_affix_features_sum_each_words_affix_embeddings_and_skip_padding():
    features = WordFeatures(hidden_n=8, affix_vocab_size=12)
    PAD = 0  # padding_idx: the affix of a word too short
    affixes = torch.tensor([[[3, 4, PAD, PAD], [5, 6, 7, 1]]])  # (B=1, S=2, A=4)
    chars, shapes, suffixes = torch.zeros(1, 2, 1, dtype=torch.long), torch.ones(1, 2, dtype=torch.long), None
    out = features(chars, shapes, suffixes, affixes)
    table = features.affix.weight
    torch.testing.assert_close(out[0, 0], table[3] + table[4])
    torch.testing.assert_close(out[0, 1], table[5] + table[6] + table[7] + table[1])
    out.sum().backward()
    assert table.grad[PAD].abs().sum() == 0 and table.grad[3].abs().sum() > 0


def test_norm_features_sum_the_lowercase_form_and_hyphen_part_embeddings_from_one_table():
    features = WordFeatures(hidden_n=8, norm_vocab_size=12)
    PAD = 0  # padding_idx: a word without a hyphen part
    norms = torch.tensor([[[3, PAD], [1, 3], [5, 6]]])  # (B=1, S=3, N_NORMS=2)
    chars, shapes, suffixes = torch.zeros(1, 3, 1, dtype=torch.long), torch.ones(1, 3, dtype=torch.long), None
    out = features(chars, shapes, suffixes, None, norms)
    table = features.norm.weight
    torch.testing.assert_close(out[0, 0], table[3])
    torch.testing.assert_close(out[0, 1], table[1] + table[3])  # "x-cancer": its own form unknown, "cancer" known
    torch.testing.assert_close(out[0, 2], table[5] + table[6])
    out.sum().backward()
    assert table.grad[PAD].abs().sum() == 0 and table.grad[3].abs().sum() > 0


def test_feature_dropout_hides_whole_tokens_in_training_only():
    features = WordFeatures(hidden_n=8, n_shapes=5, feature_dropout=0.5)
    shapes = torch.randint(1, 5, (4, 50))
    chars = suffixes = torch.zeros(4, 50, 1, dtype=torch.long)
    dropped = features.train()(chars, shapes, suffixes)
    hidden = (dropped == 0).all(dim=-1)  # (B, S): tokens whose whole vector was hidden
    assert 0.3 < hidden.float().mean() < 0.7
    torch.testing.assert_close(dropped[~hidden], features.shape(shapes)[~hidden])
    torch.testing.assert_close(features.eval()(chars, shapes, suffixes), features.shape(shapes))


def test_char_cnn_per_distinct_word_equals_per_token_in_values_and_gradients():
    torch.manual_seed(0)
    cnn = CharCNN(char_vocab_size=20, char_n=6, hidden_n=8, kernel_sizes=(2, 3))
    words = torch.randint(1, 20, (5, 4))
    words[:, 3] = 0  # three-letter words, padded to four
    chars = words[torch.randint(0, 5, (3, 7))]  # (B, S, W): 21 tokens of 5 distinct words
    chars[2, 4:] = 0  # padding tokens
    results = []
    for per_type in (False, True):
        cnn.per_type = per_type
        cnn.zero_grad()
        out = cnn(chars)
        (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
        results.append((out, [p.grad.clone() for p in cnn.parameters()]))
    torch.testing.assert_close(results[1][0], results[0][0])
    for per_type_grad, per_token_grad in zip(results[1][1], results[0][1]):
        torch.testing.assert_close(per_type_grad, per_token_grad, rtol=1e-5, atol=1e-6)


def test_char_cnn_per_distinct_word_gives_the_same_gradients_every_time():
    # Training runs are repeatable on the CPU: the gather back to tokens must not add its
    # gradients in a different order from one backward pass to the next (plain indexing did).
    torch.manual_seed(0)
    cnn = CharCNN(char_vocab_size=30, char_n=8, hidden_n=64, kernel_sizes=(3,))
    words = torch.randint(1, 30, (300, 6))
    chars = words[torch.randint(0, 300, (64, 100))]  # 6,400 tokens of at most 300 distinct words
    weights = torch.randn(64, 100, 64)
    grads = []
    for _ in range(3):
        cnn.zero_grad()
        (cnn(chars) * weights).sum().backward()
        grads.append([p.grad.clone() for p in cnn.parameters()])
    for again in grads[1:]:
        assert all(torch.equal(a, b) for a, b in zip(grads[0], again))


@pytest.mark.parametrize(
    "features",
    [
        {},
        {"char_n": 4},
        {"char_n": 4, "shape_features": True},
        {"affix_features": True},
        {"norm_features": True, "shape_features": True},
        {"char_n": 4, "shape_features": True, "affix_features": True, "norm_features": True},
    ],
)
def test_records_of_only_the_fields_a_model_reads_tag_as_the_whole_records_do(features):
    # Vocabularies.for_fields(model.net.record_fields()) leaves every other field at padding: a
    # field the model reads but does not declare would change its output.
    from postag.data import Vocabularies
    from postag.network.tagging import data_arguments
    from postag.training.build import tagger_module

    torch.manual_seed(0)
    train = [
        (["The", "well-known", "Cats", "sat", "."], ["DT", "JJ", "NNS", "VBD", "."]),
        (["Dogs", "ran", "3"], ["NNS", "VBD", "CD"]),
    ]
    vocab = Vocabularies.from_training(train, train, min_freq=1)
    model = tagger_module(**data_arguments(vocab), hidden_n=16, n=1, h=2, **features)
    model.eval()
    for module in model.modules():  # no zero-initialised table may hide a field
        if isinstance(module, torch.nn.Embedding):
            torch.nn.init.normal_(module.weight)
    sentences = [["The", "Cats", "ran", "well-known"], ["lung-cancer", "Dogs", "3", "sat", "unseen"]]
    fields = model.net.record_fields()
    switches = {"chars": "char_n", "shapes": "shape_features", "suffixes": "shape_features",
                "affixes": "affix_features", "norms": "norm_features"}
    assert fields == {"words"} | {field for field, switch in switches.items() if features.get(switch)}
    whole, only_read = vocab.encode_batch(sentences), vocab.for_fields(fields).encode_batch(sentences)
    torch.testing.assert_close(model(only_read), model(whole))
    for field in {"chars", "shapes", "suffixes", "affixes", "norms"} - fields:  # the rest are padding
        assert not getattr(only_read, field).any()


def test_for_fields_needs_the_word_ids_and_known_fields():
    from postag.data import Vocabularies

    vocab = Vocabularies.from_training([(["a"], ["X"])], [(["a"], ["X"])], min_freq=1)
    with pytest.raises(ValueError, match="must include 'words'"):
        vocab.for_fields({"chars"})
    with pytest.raises(ValueError, match="got \\['lemmas', 'words'\\]"):
        vocab.for_fields({"words", "lemmas"})
