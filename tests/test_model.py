"""The hand-built encoder against torch's own implementations."""

import math

import pytest
import torch
from torch import nn

from postag.network.model import (
    Attention,
    LayerNorm,
    LocalConvolution,
    MultiHeadAttention,
    OffsetBias,
    Packing,
    SequenceTooLongError,
    Transformer,
    TransformerBlock,
    relu,
    scaled_dot_product_attention,
    softmax,
)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def padding_mask(lengths, seq):
    return torch.arange(seq)[None, :] < torch.tensor(lengths)[:, None]  # (B, S)


@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 4, 6), (2, 3, 4, 5)])
def test_softmax_matches_torch_any_rank(shape):
    x = torch.randn(shape) * 10
    torch.testing.assert_close(softmax(x), torch.softmax(x, dim=-1))


def test_softmax_is_stable_for_large_inputs():
    x = torch.tensor([[1000.0, 1001.0, 1002.0], [-1000.0, -1001.0, -1002.0]])
    out = softmax(x)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, torch.softmax(x, dim=-1))


def test_softmax_gives_zero_to_minus_inf_and_no_nan_on_all_minus_inf_rows():
    x = torch.tensor([[0.5, float("-inf"), 1.5], [float("-inf")] * 3])
    out = softmax(x)
    torch.testing.assert_close(out[0], torch.softmax(x[0], dim=-1))
    assert out[0, 1] == 0
    assert torch.equal(out[1], torch.zeros(3))


def test_relu_matches_torch():
    x = torch.randn(4, 9)
    torch.testing.assert_close(relu(x), torch.relu(x))


def test_relu_in_place_matches_torch_and_overwrites_its_input():
    x = torch.randn(4, 9)
    expected = torch.relu(x)
    out = relu(x, inplace=True)
    torch.testing.assert_close(out, expected)
    assert out.data_ptr() == x.data_ptr() and torch.equal(x, expected)


def test_relu_gradient_matches_torch():
    x = torch.randn(50, requires_grad=True)
    relu(x).sum().backward()
    torch.testing.assert_close(x.grad, (x > 0).float())


@pytest.mark.parametrize("norm_shape", [16, (4, 16)])
def test_layer_norm_matches_torch_with_equal_parameters(norm_shape):
    ours = LayerNorm(norm_shape)
    reference = nn.LayerNorm(norm_shape)
    assert torch.equal(ours.weight, torch.ones_like(ours.weight))
    assert torch.equal(ours.bias, torch.zeros_like(ours.bias))
    with torch.no_grad():
        for p in (ours.weight, ours.bias):
            p.normal_()
        reference.weight.copy_(ours.weight)
        reference.bias.copy_(ours.bias)
    x = (torch.randn(3, 5, 4, 16) * 3 + 2).requires_grad_()
    torch.testing.assert_close(ours(x), reference(x))
    upstream = torch.randn(3, 5, 4, 16)
    grads = torch.autograd.grad((ours(x) * upstream).sum(), (x, ours.weight, ours.bias))
    expected = torch.autograd.grad((reference(x) * upstream).sum(), (x, reference.weight, reference.bias))
    for got, want in zip(grads, expected):
        torch.testing.assert_close(got, want)
    with torch.inference_mode():  # without autograd it scales in place: the same values
        torch.testing.assert_close(ours(x), reference(x))


def test_scaled_dot_product_attention_matches_explicit_formula_and_torch():
    q, k, v = torch.randn(3, 2, 6, 8).unbind(0)
    out, weights = scaled_dot_product_attention(q, k, v)
    expected_weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(8), dim=-1)
    torch.testing.assert_close(weights, expected_weights)
    torch.testing.assert_close(out, expected_weights @ v)
    torch.testing.assert_close(out, nn.functional.scaled_dot_product_attention(q, k, v))


def test_attention_matches_explicit_formula():
    attention = Attention(hidden_n=12)
    x = torch.randn(2, 5, 12)
    q, k, v = attention.q(x), attention.k(x), attention.v(x)
    expected = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(12), dim=-1) @ v
    torch.testing.assert_close(attention(x), expected)


def test_masked_keys_get_exactly_zero_weight():
    q, k, v = torch.randn(3, 2, 5, 4).unbind(0)
    mask = padding_mask([5, 2], 5)
    _, weights = scaled_dot_product_attention(q, k, v, mask[:, None, :])
    assert torch.equal(weights[1, :, 2:], torch.zeros(5, 3))
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 5))


def test_attention_output_ignores_values_at_padded_keys():
    attention = Attention(hidden_n=8)
    x = torch.randn(1, 6, 8)
    mask = padding_mask([4], 6)
    garbage = x.clone()
    garbage[:, 4:] = 1e4 * torch.randn(1, 2, 8)
    torch.testing.assert_close(attention(x, mask)[:, :4], attention(garbage, mask)[:, :4])


def _copy_into_torch_mha(ours: MultiHeadAttention, reference: nn.MultiheadAttention):
    with torch.no_grad():
        # both store the fused projection as [queries; keys; values]
        reference.in_proj_weight.copy_(ours.qkv.weight)
        reference.in_proj_bias.copy_(ours.qkv.bias)
        reference.out_proj.weight.copy_(ours.out.weight)
        reference.out_proj.bias.copy_(ours.out.bias)


@pytest.mark.parametrize("attention", ["manual", "sdpa"])
@pytest.mark.parametrize("h", [1, 2, 4])
def test_multi_head_attention_matches_torch_with_padding(h, attention):
    ours = MultiHeadAttention(hidden_n=16, h=h, attention=attention)
    reference = nn.MultiheadAttention(16, h, batch_first=True)
    _copy_into_torch_mha(ours, reference)
    x = torch.randn(3, 7, 16)
    mask = padding_mask([7, 4, 1], 7)
    expected, _ = reference(x, x, x, key_padding_mask=~mask, need_weights=False)
    actual = ours(x, mask)
    # torch's output at padded query positions is also defined (they attend to real keys)
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("attention", ["manual", "sdpa"])
def test_the_exercises_call_with_distinct_queries_keys_and_values_matches_torch(attention):
    # attention(Q, K, V, mask): cross-attention, 5 queries over 8 keys, two of them padded in row 1
    ours = MultiHeadAttention(hidden_n=16, h=4, attention=attention)
    reference = nn.MultiheadAttention(16, 4, batch_first=True)
    _copy_into_torch_mha(ours, reference)
    q, k, v = torch.randn(2, 5, 16), torch.randn(2, 8, 16), torch.randn(2, 8, 16)
    mask = padding_mask([8, 6], 8)
    expected, expected_weights = reference(
        q, k, v, key_padding_mask=~mask, need_weights=True, average_attn_weights=False
    )
    torch.testing.assert_close(ours(q, k, v, mask), expected, rtol=1e-5, atol=1e-5)
    out, weights = ours(q, k, v, mask, need_weights=True)
    assert weights.shape == (2, 4, 5, 8)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(weights, expected_weights, rtol=1e-5, atol=1e-5)
    assert torch.equal(weights[1, :, :, 6:], torch.zeros(4, 5, 2))


def test_the_exercises_call_on_one_tensor_equals_self_attention():
    mha = MultiHeadAttention(128, 3)
    q = torch.randn(2, 6, 128)
    mask = padding_mask([6, 4], 6)
    # (q, q, q) takes the fused projection; equal but distinct tensors take the separate one
    fused = mha(q, q, q, mask)
    separate = mha(q, q.clone(), q.clone(), mask)
    torch.testing.assert_close(separate, fused, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(mha(q, mask=mask), fused)
    torch.testing.assert_close(mha(q, mask), fused)  # the shorter call attention(x, mask)


def test_single_head_attention_takes_queries_keys_values_and_a_mask():
    attention = Attention(hidden_n=6, head_size=4)
    q, kv = torch.randn(2, 3, 6), torch.randn(2, 5, 6)
    mask = padding_mask([5, 2], 5)
    out, weights = attention(q, kv, kv, mask, need_weights=True)
    scores = attention.q(q) @ attention.k(kv).transpose(1, 2) / 2.0  # sqrt(4)
    expected_weights = torch.softmax(scores.masked_fill(~mask[:, None, :], float("-inf")), dim=-1)
    torch.testing.assert_close(weights, expected_weights)
    torch.testing.assert_close(out, expected_weights @ attention.v(kv))
    with pytest.raises(ValueError, match="differ in batch or length"):
        attention(q, kv, q)
    with pytest.raises(TypeError, match="no values"):
        attention(q, mask, kv)


@pytest.mark.parametrize("attention", ["manual", "sdpa"])
def test_transformer_returns_every_blocks_attention_weights_when_asked(attention):
    model = Transformer(emb_n=30, hidden_n=16, n=3, h=4, positional=True, max_len=10, attention=attention).eval()
    tokens = torch.randint(2, 30, (3, 7))
    mask = padding_mask([7, 3, 5], 7)  # enough padding to be packed
    assert Packing.worth_it(mask)
    out, weights = model(tokens, mask, need_weights=True)
    torch.testing.assert_close(out, model(tokens, mask))  # asking changes nothing else
    assert len(weights) == 3 and all(w.shape == (3, 4, 7, 7) for w in weights)
    for w in weights:
        torch.testing.assert_close(w.sum(-1), torch.ones(3, 4, 7))
        assert torch.equal(w[1, :, :, 3:], torch.zeros(4, 7, 4))  # padded keys get nothing
    # the first block's weights, recomputed from its own input with torch's attention
    block = model.blocks[0]
    x = model.token_embedding(tokens) + model.position_embedding(torch.arange(7))
    reference = nn.MultiheadAttention(16, 4, batch_first=True)
    _copy_into_torch_mha(block.attention, reference)
    _, expected = reference(*[block.norm_attention(x)] * 3, key_padding_mask=~mask, average_attn_weights=False)
    real_queries = mask[:, None, :, None].expand_as(expected)  # padded queries' rows may differ
    torch.testing.assert_close(weights[0][real_queries], expected[real_queries], rtol=1e-5, atol=1e-5)


def test_offset_bias_for_queries_and_keys_of_different_lengths():
    bias = OffsetBias(h=1, max_offset=1)
    with torch.no_grad():
        bias.weight.copy_(torch.tensor([[-1.0, 0.0, 1.0]]))
    assert torch.equal(bias(2, 4)[0], torch.tensor([[0.0, 1.0, 1.0, 1.0], [-1.0, 0.0, 1.0, 1.0]]))


def test_offset_bias_reads_each_heads_score_for_the_clipped_offset():
    bias = OffsetBias(h=2, max_offset=2)
    with torch.no_grad():
        bias.weight.copy_(torch.arange(10.0).view(2, 5))  # head 0: offsets -2..2 -> 0..4, head 1: 5..9
    table = bias(6)  # (h, S, S)
    assert table.shape == (2, 6, 6)
    for head in range(2):
        for i in range(6):
            for j in range(6):
                assert table[head, i, j] == 5 * head + max(-2, min(2, j - i)) + 2


@pytest.mark.parametrize("attention", ["manual", "sdpa"])
def test_multi_head_attention_with_offset_bias_matches_torch_given_the_bias_as_a_mask(attention):
    ours = MultiHeadAttention(hidden_n=16, h=4, attention=attention, max_offset=3)
    with torch.no_grad():
        ours.offset_bias.weight.normal_()
    reference = nn.MultiheadAttention(16, 4, batch_first=True)
    _copy_into_torch_mha(ours, reference)
    x = torch.randn(3, 9, 16)
    mask = padding_mask([9, 5, 2], 9)
    bias = ours.offset_bias(9).detach()  # (h, S, S), torch takes (B * h, S, S) added to the scores
    padding = torch.zeros(mask.shape).masked_fill(~mask, float("-inf"))  # as a float mask, the kind of attn_mask
    expected, _ = reference(x, x, x, key_padding_mask=padding, attn_mask=bias.repeat(3, 1, 1), need_weights=False)
    actual = ours(x, mask)
    torch.testing.assert_close(actual[mask], expected[mask], rtol=1e-5, atol=1e-5)
    actual.masked_fill(~mask[..., None], 0.0).sum().backward()
    assert ours.offset_bias.weight.grad.abs().sum() > 0  # the bias learns


def test_a_zero_offset_bias_changes_nothing_and_packing_keeps_it():
    plain = Transformer(emb_n=30, hidden_n=16, n=2, h=4, dropout=0.0).eval()
    biased = Transformer(emb_n=30, hidden_n=16, n=2, h=4, dropout=0.0, max_offset=2).eval()
    biased.load_state_dict(plain.state_dict(), strict=False)  # the bias itself starts at zero
    tokens = torch.randint(1, 30, (4, 8))
    mask = padding_mask([8, 3, 5, 1], 8)
    torch.testing.assert_close(biased(tokens, mask), plain(tokens, mask))
    with torch.no_grad():
        for block in biased.blocks:
            block.attention.offset_bias.weight.normal_()
    packed = biased(tokens, mask)  # 41% padding: packed
    assert Packing.worth_it(mask)
    for row, length in enumerate([8, 3, 5, 1]):  # each sentence alone, unpadded, gives the same vectors
        alone = biased(tokens[row : row + 1, :length], mask[row : row + 1, :length])
        torch.testing.assert_close(packed[row, :length], alone[0], rtol=1e-5, atol=1e-5)


def test_local_convolution_mixes_each_dimension_of_the_words_within_reach_and_no_padding():
    conv = LocalConvolution(hidden_n=4, kernel=3)
    x = torch.randn(2, 5, 4)
    mask = padding_mask([5, 3], 5)
    x[1, 3:] = 1e6  # padding that must not reach the real tokens
    out = conv(x, mask)
    weight, bias = conv.conv.weight[:, 0, :], conv.conv.bias  # (H, 3), (H,)
    for row, length in enumerate([5, 3]):
        for i in range(length):
            expected = bias.clone()
            for k, j in enumerate(range(i - 1, i + 2)):  # offsets -1, 0, +1
                if 0 <= j < length:
                    expected = expected + weight[:, k] * x[row, j]
            torch.testing.assert_close(out[row, i], expected)
    packing = Packing.from_mask(mask)  # packed tokens give the same real-token outputs
    torch.testing.assert_close(conv(packing.pack(x), mask, packing), packing.pack(out))
    with pytest.raises(ValueError, match="odd and positive"):
        LocalConvolution(hidden_n=4, kernel=2)


@pytest.mark.parametrize("kernel, seq", [(3, 6), (5, 6), (5, 2), (3, 1)])
def test_local_convolution_equals_torchs_grouped_conv1d_in_values_and_gradients(kernel, seq):
    # Shorter sentences than the kernel's reach too: the offsets beyond the sentence add nothing.
    conv = LocalConvolution(hidden_n=8, kernel=kernel)
    x = torch.randn(3, seq, 8, requires_grad=True)
    ours = conv(x)
    reference = conv.conv(x.transpose(1, 2)).transpose(1, 2)  # (B, H, S) through nn.Conv1d
    torch.testing.assert_close(ours, reference)
    upstream = torch.randn_like(ours)
    grads = torch.autograd.grad((ours * upstream).sum(), (x, conv.conv.weight, conv.conv.bias))
    expected = torch.autograd.grad((reference * upstream).sum(), (x, conv.conv.weight, conv.conv.bias))
    for got, want in zip(grads, expected):
        torch.testing.assert_close(got, want)


def test_transformer_with_local_convolution_keeps_sentences_apart_when_packed():
    model = Transformer(emb_n=30, hidden_n=16, n=2, h=4, dropout=0.0, positional=True, conv_kernel=3).eval()
    tokens = torch.randint(1, 30, (4, 8))
    lengths = [8, 3, 5, 1]
    mask = padding_mask(lengths, 8)
    assert Packing.worth_it(mask)
    packed = model(tokens, mask)
    for row, length in enumerate(lengths):
        alone = model(tokens[row : row + 1, :length], mask[row : row + 1, :length])
        torch.testing.assert_close(packed[row, :length], alone[0], rtol=1e-5, atol=1e-5)


def test_multi_head_attention_with_heads_not_dividing_hidden_size():
    mha = MultiHeadAttention(hidden_n=128, h=3)  # the exercise's configuration
    assert mha.head_size == 42
    assert mha.qkv.weight.shape == (3 * 126, 128) and mha.out.weight.shape == (128, 126)
    x = torch.randn(2, 5, 128)
    assert mha(x, padding_mask([5, 3], 5)).shape == (2, 5, 128)


def test_multi_head_attention_explicit_head_size():
    mha = MultiHeadAttention(hidden_n=10, h=2, head_size=7)
    assert mha.qkv.weight.shape == (3 * 14, 10)
    assert mha(torch.randn(1, 3, 10)).shape == (1, 3, 10)


def test_multi_head_attention_rejects_bad_head_counts():
    with pytest.raises(ValueError, match="at least 1"):
        MultiHeadAttention(hidden_n=8, h=0)
    with pytest.raises(ValueError, match="too small"):
        MultiHeadAttention(hidden_n=2, h=4)
    with pytest.raises(ValueError, match="manual, sdpa"):
        MultiHeadAttention(hidden_n=8, h=2, attention="flash")


def test_sdpa_attention_agrees_with_manual_in_values_and_gradients():
    torch.manual_seed(0)
    manual = MultiHeadAttention(hidden_n=24, h=3, attention="manual")
    fused = MultiHeadAttention(hidden_n=24, h=3, attention="sdpa")
    fused.load_state_dict(manual.state_dict())
    x = torch.randn(4, 9, 24)
    # lengths 9, 5, 1 and an all-padding row: the fused kernel alone would give NaN there
    mask = padding_mask([9, 5, 1, 0], 9)
    outputs, grads = [], []
    for module in (manual, fused):
        inputs = x.clone().requires_grad_(True)
        out = module(inputs, mask)
        (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
        outputs.append(out)
        grads.append([inputs.grad] + [p.grad for p in module.parameters()])
    assert not outputs[1].isnan().any()
    torch.testing.assert_close(outputs[1], outputs[0], rtol=1e-5, atol=1e-5)
    for fused_grad, manual_grad in zip(grads[1], grads[0]):
        torch.testing.assert_close(fused_grad, manual_grad, rtol=1e-4, atol=1e-5)


def _block_and_torch_layer(norm_first: bool) -> tuple[TransformerBlock, nn.TransformerEncoderLayer]:
    """A TransformerBlock and torch's encoder layer of the same size holding the same weights."""
    block = TransformerBlock(hidden_n=16, h=4, ff_dim=32, dropout=0.0, norm_first=norm_first)
    reference = nn.TransformerEncoderLayer(
        16, 4, dim_feedforward=32, dropout=0.0, activation="relu", batch_first=True, norm_first=norm_first
    )
    _copy_into_torch_mha(block.attention, reference.self_attn)
    with torch.no_grad():
        reference.linear1.load_state_dict(block.feed_forward.up.state_dict())
        reference.linear2.load_state_dict(block.feed_forward.down.state_dict())
        reference.norm1.load_state_dict(block.norm_attention.state_dict())
        reference.norm2.load_state_dict(block.norm_feed_forward.state_dict())
    return block, reference


@pytest.mark.parametrize("norm_first", [True, False])
def test_transformer_block_matches_torch_encoder_layer(norm_first):
    block, reference = _block_and_torch_layer(norm_first)
    block.eval()
    reference.eval()
    x = torch.randn(2, 6, 16)
    mask = padding_mask([6, 3], 6)
    expected = reference(x, src_key_padding_mask=~mask)
    actual = block(x, mask)
    # torch's fast path may leave padded positions as zeros: compare real tokens
    torch.testing.assert_close(actual[mask], expected[mask], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("norm_first", [True, False])
def test_transformer_block_gradients_match_torch_encoder_layer(norm_first):
    # The block computes some steps in place (scaling, masking, exp, ReLU): autograd must
    # still give torch's gradients, for the input and for every weight.
    torch.manual_seed(0)
    block, reference = _block_and_torch_layer(norm_first)
    block.train()
    reference.train()
    x = torch.randn(2, 6, 16)
    mask = padding_mask([6, 3], 6)
    weights = torch.linspace(-1, 1, 2 * 6 * 16).view(2, 6, 16) * mask[..., None]  # real tokens only
    grads = []
    for forward in (lambda t: block(t, mask), lambda t: reference(t, src_key_padding_mask=~mask)):
        inputs = x.clone().requires_grad_(True)
        (forward(inputs) * weights).sum().backward()
        grads.append(inputs.grad)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(block.feed_forward.up.weight.grad, reference.linear1.weight.grad, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(block.norm_attention.weight.grad, reference.norm1.weight.grad, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(
        block.attention.qkv.weight.grad, reference.self_attn.in_proj_weight.grad, rtol=1e-4, atol=1e-5
    )


def test_transformer_block_default_feed_forward_is_four_times_hidden():
    block = TransformerBlock(hidden_n=24, h=2)
    assert block.feed_forward.up.weight.shape == (96, 24)


@pytest.mark.parametrize("positional", [False, True])
def test_transformer_output_does_not_depend_on_batch_padding(positional):
    model = Transformer(emb_n=50, hidden_n=16, n=2, h=2, positional=positional, max_len=20).eval()
    sentence = torch.randint(2, 50, (1, 5))
    alone = model(sentence, torch.ones(1, 5, dtype=torch.bool))
    padded = torch.zeros(2, 12, dtype=torch.long)
    padded[0, :5] = sentence
    padded[1] = torch.randint(2, 50, (12,))
    mask = padding_mask([5, 12], 12)
    in_batch = model(padded, mask)
    torch.testing.assert_close(in_batch[0, :5], alone[0], rtol=1e-5, atol=1e-5)


def test_packing_keeps_real_tokens_in_batch_order_and_unpacks_to_zero_padding():
    mask = padding_mask([3, 0, 2], 4)
    x = torch.arange(3 * 4 * 2, dtype=torch.float).view(3, 4, 2)
    packing = Packing.from_mask(mask)
    packed = packing.pack(x)
    assert torch.equal(packed, x[mask])  # (N, 2), row by row
    unpacked = packing.unpack(packed)
    assert torch.equal(unpacked[mask], x[mask])
    assert torch.equal(unpacked[~mask], torch.zeros(int((~mask).sum()), 2))


@pytest.mark.parametrize("lengths", [[10, 9], [10, 2]])
def test_transformer_output_is_zero_on_padding_packed_or_not(lengths):
    model = Transformer(emb_n=30, hidden_n=16, n=1, h=4, positional=True, conv_kernel=3).eval()
    mask = padding_mask(lengths, 10)  # 5% padding: not packed; 40%: packed
    out = model(torch.randint(1, 30, (2, 10)), mask)
    assert torch.equal(out[~mask], torch.zeros(int((~mask).sum()), 16))
    assert out[mask].abs().sum(dim=-1).min() > 0


def test_only_batches_with_enough_padding_are_packed():
    # 1 padded slot in 20 (5%): packing would cost more than it saves; 10 in 20 is worth it.
    assert not Packing.worth_it(padding_mask([10, 9], 10))
    assert Packing.worth_it(padding_mask([10, 0], 10))


@pytest.mark.parametrize("attention", ["manual", "sdpa"])
@pytest.mark.parametrize("norm_first", [True, False])
def test_packed_transformer_matches_the_blocks_on_the_padded_batch(attention, norm_first):
    # Transformer runs its blocks on the real tokens only; running the same blocks on the
    # padded (B, S, H) batch must give the same real-token outputs and the same gradients.
    model = Transformer(
        emb_n=30, hidden_n=16, n=2, h=4, positional=True, max_len=10, norm_first=norm_first, attention=attention
    ).eval()
    tokens = torch.randint(2, 30, (4, 7))
    mask = padding_mask([7, 4, 1, 0], 7)  # an all-padding row too
    tokens[~mask] = 0

    def padded_forward() -> torch.Tensor:
        x = model.token_embedding(tokens) + model.position_embedding(torch.arange(7))
        for block in model.blocks:
            x = block(x, mask)
        return model.final_norm(x)

    weights = torch.linspace(-1, 1, 4 * 7 * 16).view(4, 7, 16) * mask[..., None]  # real tokens only
    outputs, grads = [], []
    for forward in (lambda: model(tokens, mask), padded_forward):
        model.zero_grad()
        out = forward()
        (out * weights).sum().backward()
        outputs.append(out)
        grads.append([p.grad.clone() for p in model.parameters()])
    torch.testing.assert_close(outputs[0][mask], outputs[1][mask], rtol=1e-5, atol=1e-5)
    assert torch.equal(outputs[0][~mask], torch.zeros(int((~mask).sum()), 16))
    for packed_grad, padded_grad in zip(*grads):
        torch.testing.assert_close(packed_grad, padded_grad, rtol=1e-4, atol=1e-5)


def test_transformer_shapes_and_padding_embedding():
    model = Transformer(emb_n=30, hidden_n=8, n=1, h=2)
    assert torch.equal(model.token_embedding.weight[0], torch.zeros(8))
    assert model(torch.randint(0, 30, (4, 9))).shape == (4, 9, 8)


def test_positions_make_word_order_matter():
    tokens = torch.tensor([[5, 6, 7]])
    reversed_tokens = tokens.flip(1)
    without = Transformer(emb_n=10, hidden_n=8, n=1, h=2, dropout=0.0).eval()
    with_pos = Transformer(emb_n=10, hidden_n=8, n=1, h=2, dropout=0.0, positional=True).eval()
    # Without positions, attention is permutation-equivariant: reversing input reverses output.
    torch.testing.assert_close(without(reversed_tokens), without(tokens).flip(1))
    assert not torch.allclose(with_pos(reversed_tokens), with_pos(tokens).flip(1))


def test_sentence_longer_than_max_len_is_a_clear_error():
    model = Transformer(emb_n=10, hidden_n=8, n=1, h=2, positional=True, max_len=4)
    with pytest.raises(SequenceTooLongError, match="5 tokens is longer than max_len=4"):
        model(torch.ones(1, 5, dtype=torch.long))


def test_transformer_rejects_zero_blocks():
    with pytest.raises(ValueError, match="n \\(number of blocks\\)"):
        Transformer(emb_n=10, hidden_n=8, n=0, h=2)


@pytest.mark.parametrize("norm_first", [True, False])
def test_gradients_reach_every_parameter(norm_first):
    model = Transformer(emb_n=20, hidden_n=8, n=2, h=2, positional=True, max_len=10, norm_first=norm_first)
    tokens = torch.randint(1, 20, (3, 6))
    tokens[2, 4:] = 0
    model(tokens, tokens != 0).pow(2).sum().backward()
    for name, param in model.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name
    assert torch.equal(model.token_embedding.weight.grad[0], torch.zeros(8))  # padding row untouched
