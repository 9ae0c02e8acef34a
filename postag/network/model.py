"""A Transformer encoder built from first principles.

Shapes in comments use B = batch, S = sequence length, H = hidden size,
h = number of heads, D = size of one head.

Masks follow one convention throughout: a boolean tensor that is True on real
tokens and False on padding. Padded keys receive exactly zero attention weight.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from postag.errors import SequenceTooLongError


def softmax(x: torch.Tensor) -> torch.Tensor:
    """Softmax over the last dimension, for a tensor of any rank.

    Subtracting the row maximum keeps ``exp`` from overflowing. Entries equal to
    ``-inf`` get weight 0; a row made only of ``-inf`` gives zeros rather than
    NaN, so a sequence with no real key cannot poison the output.
    """
    row_max = x.amax(dim=-1, keepdim=True)
    # A row of only -inf has max -inf; shifting by it would give NaN (-inf - -inf).
    # Clamped to the lowest finite value instead, such a row becomes exp(-inf) = 0 everywhere.
    # exp_ in place on the fresh difference: autograd keeps the exp, not the difference.
    exp = (x - row_max.clamp_min(torch.finfo(x.dtype).min)).exp_()
    total = exp.sum(dim=-1, keepdim=True)
    # 0 / tiny = 0 for an all -inf row; any real row has total >= 1 (its maximum gives exp(0)).
    return exp / total.clamp_min(torch.finfo(x.dtype).tiny)


def relu(x: torch.Tensor, inplace: bool = False) -> torch.Tensor:
    """max(x, 0), element-wise; ``inplace`` overwrites x (for a fresh tensor nothing else reads)."""
    return x.clamp_min_(0.0) if inplace else x.clamp_min(0.0)


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    key_mask: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(q k^T / sqrt(D) + bias) v over the last two dimensions.

    q, k, v: (..., S, D). key_mask: broadcastable to (..., S_q, S_k), True where a
    key may be attended to. bias: broadcastable to (..., S_q, S_k), added to the scores.
    Returns (output (..., S, D), weights (..., S, S)).
    """
    # Scaled, biased and masked in place: the product is a fresh tensor of the full (..., S_q, S_k)
    # shape, and autograd keeps q and k, not it.
    scores = (q @ k.transpose(-2, -1)).mul_(1.0 / math.sqrt(q.size(-1)))  # (..., S, S)
    if bias is not None:
        scores = scores.add_(bias)
    if key_mask is not None:
        # -inf (not a large negative constant) so half precision cannot overflow and masked keys
        # get exactly zero weight; added rather than filled in, because masked_fill_ with a mask
        # broadcast over the queries was much slower on the CPU.
        blocked = torch.zeros(key_mask.shape, dtype=scores.dtype, device=scores.device)
        scores = scores.add_(blocked.masked_fill_(~key_mask, float("-inf")))
    weights = softmax(scores)
    return weights @ v, weights


def zero_padding(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """x (B, S, H) with zeros where mask (B, S) is False. A product rather than masked_fill, which
    was much slower on the CPU with the mask broadcast over H; the same for any finite x."""
    return x * mask[..., None]


def _key_mask(mask: torch.Tensor | None) -> torch.Tensor | None:
    """(B, S) token mask -> (B, 1, S) key mask that broadcasts over queries."""
    return None if mask is None else mask[:, None, :]


class Attention(nn.Module):
    """One attention head with its own query, key and value projections.

    ``attention(Q, K, V, mask)``: queries from Q, keys from K, values from V (cross-attention);
    ``attention(x, mask=mask)`` (K and V left out) attends over x itself. mask: (B, S_k), True
    on real keys. need_weights=True also returns the weights (B, S_q, S_k).
    """

    def __init__(self, hidden_n: int, head_size: int | None = None):
        super().__init__()
        head_size = hidden_n if head_size is None else head_size
        self.q = nn.Linear(hidden_n, head_size)
        self.k = nn.Linear(hidden_n, head_size)
        self.v = nn.Linear(hidden_n, head_size)

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor | None = None,
        value: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        need_weights: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        # query: (B, S_q, H); key, value: (B, S_k, H); mask: (B, S_k) True on real keys
        key, value, mask = _keys_and_values(query, key, value, mask)
        out, weights = scaled_dot_product_attention(self.q(query), self.k(key), self.v(value), _key_mask(mask))
        return (out, weights) if need_weights else out  # (B, S_q, D), (B, S_q, S_k)


def _keys_and_values(
    query: torch.Tensor, key: torch.Tensor | None, value: torch.Tensor | None, mask: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """The keys, values and mask of a call ``attention(Q, K, V, mask)``: K left out is Q (self-
    attention), V left out is K. A boolean tensor in K's place is the mask of the shorter call
    ``attention(x, mask)``, which earlier versions took."""
    if key is not None and key.dtype == torch.bool:
        if mask is not None or value is not None:
            raise TypeError("attention(x, mask) takes no values and no second mask")
        key, mask = None, key
    key = query if key is None else key
    value = key if value is None else value
    if key.shape[:-1] != value.shape[:-1]:
        raise ValueError(f"keys {tuple(key.shape)} and values {tuple(value.shape)} differ in batch or length")
    return key, value, mask


class Packing(NamedTuple):
    """Where the real tokens of a padded batch are, so that position-wise layers skip padding.

    Everything in a block except attention itself (the Q/K/V and output projections,
    the feed-forward, the layer norms) treats each position on its own, so it can run on
    the N real tokens alone: (N, H) instead of (B, S, H). Batches in file order are often
    more than half padding. Attention unpacks to (B, S, ...) for its batched products.
    """

    mask: torch.Tensor  # (B, S) True on real tokens
    index: torch.Tensor  # (N,) positions of the real tokens in the flattened (B*S) batch
    rows: torch.Tensor  # (N,) batch row of each real token
    columns: torch.Tensor  # (N,) position of each real token in its sentence

    # Below this share of padding, packing costs more than it saves: moving the tokens in and
    # out of the padded layout is not free.
    MIN_PADDING = 0.1

    @classmethod
    def from_mask(cls, mask: torch.Tensor) -> Packing:
        index = mask.flatten().nonzero().squeeze(1)
        seq = mask.size(1)
        return cls(mask, index, torch.div(index, seq, rounding_mode="floor"), index % seq)

    @classmethod
    def worth_it(cls, mask: torch.Tensor) -> bool:
        """True when at least MIN_PADDING of the batch's token slots are padding."""
        return int(mask.sum()) <= (1.0 - cls.MIN_PADDING) * mask.numel()

    def pack(self, x: torch.Tensor) -> torch.Tensor:
        """(B, S, ...) -> (N, ...), the real tokens in batch order; x may be any strided view."""
        return x[self.rows, self.columns]

    def unpack(self, x: torch.Tensor) -> torch.Tensor:
        """(N, ...) -> (B, S, ...), zeros on padding."""
        batch, seq = self.mask.shape
        out = x.new_zeros(batch * seq, *x.shape[1:])
        # In place on the fresh zeros: the out-of-place index_copy would copy them once more.
        return out.index_copy_(0, self.index, x).view(batch, seq, *x.shape[1:])


ATTENTION_IMPLEMENTATIONS = ("manual", "sdpa")


class OffsetBias(nn.Module):
    """A learned score per head for each relative offset j - i between query i and key j,
    clipped to [-max_offset, max_offset]: each head can learn to look at the previous word,
    the next one or itself, whatever the sentence's length and the word's absolute position."""

    def __init__(self, h: int, max_offset: int):
        super().__init__()
        if max_offset < 1:
            raise ValueError(f"max_offset must be at least 1, got {max_offset}")
        self.max_offset = max_offset
        self.weight = nn.Parameter(torch.zeros(h, 2 * max_offset + 1))  # starts neutral

    def forward(self, seq: int, key_seq: int | None = None) -> torch.Tensor:
        # key_seq: the keys' length where it differs from the queries' (cross-attention)
        queries = torch.arange(seq, device=self.weight.device)
        keys = queries if key_seq is None else torch.arange(key_seq, device=self.weight.device)
        offsets = (keys[None, :] - queries[:, None]).clamp(-self.max_offset, self.max_offset)  # (S_q, S_k)
        return self.weight[:, offsets + self.max_offset]  # (h, S_q, S_k)


class MultiHeadAttention(nn.Module):
    """h heads from one fused Q/K/V projection, computed in one batched product.

    The head size defaults to hidden_n // h, so h need not divide hidden_n: the
    output projection maps h * head_size back to hidden_n (3 heads on 128
    dimensions use 3 * 42 = 126 inner dimensions).

    attention="manual" runs this module's own ``scaled_dot_product_attention``
    (the readable reference); "sdpa" runs torch's fused kernel with the same mask.
    """

    def __init__(
        self, hidden_n: int, h: int, head_size: int | None = None, attention: str = "manual", max_offset: int = 0
    ):
        super().__init__()
        if h < 1:
            raise ValueError(f"h (number of heads) must be at least 1, got {h}")
        head_size = hidden_n // h if head_size is None else head_size
        if head_size < 1:
            raise ValueError(f"hidden_n={hidden_n} is too small for h={h} heads (head size would be 0)")
        if attention not in ATTENTION_IMPLEMENTATIONS:
            raise ValueError(f"attention must be one of {', '.join(ATTENTION_IMPLEMENTATIONS)}, got {attention!r}")
        if max_offset < 0:
            raise ValueError(f"max_offset must be 0 (off) or positive, got {max_offset}")
        self.h = h
        self.head_size = head_size
        self.attention = attention
        inner = h * head_size
        # Rows [0, inner) are the queries, then the keys, then the values: one matrix
        # product instead of three.
        self.qkv = nn.Linear(hidden_n, 3 * inner)
        self.out = nn.Linear(inner, hidden_n)
        # max_offset > 0: a learned bias by relative offset on every head's scores (OffsetBias)
        self.offset_bias = OffsetBias(h, max_offset) if max_offset > 0 else None

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor | None = None,
        value: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        packing: Packing | None = None,
        need_weights: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """``attention(Q, K, V, mask)``, or self-attention ``attention(x, mask=mask)``.

        query: (B, S_q, H); key, value: (B, S_k, H); mask: (B, S_k) True on real keys. With
        packing (self-attention only), query is (N, H): the real tokens alone. need_weights=True
        also returns the attention weights (B, h, S_q, S_k), computed by the manual path.
        """
        key, value, mask = _keys_and_values(query, key, value, mask)
        if packing is not None:
            mask = packing.mask
        if key is query and value is query:
            q, k, v = self._self_projections(query, packing)  # each (B, h, S, D)
        else:
            if packing is not None:
                raise ValueError("packing is for self-attention: keys and values must be the queries")
            q, k, v = self._cross_projections(query, key, value)  # (B, h, S_q, D), (B, h, S_k, D) x 2
        heads, weights = self._attend(q, k, v, mask, need_weights)  # (B, h, S_q, D)
        heads = heads.transpose(1, 2)  # (B, S_q, h, D), a view
        if packing is not None:
            # Gathered straight from the view: one copy, not a reshape and then a gather.
            out = self.out(packing.pack(heads).flatten(1))  # (N, H)
        else:
            out = self.out(heads.reshape(*heads.shape[:2], self.h * self.head_size))  # (B, S_q, H)
        return (out, weights) if need_weights else out

    def _self_projections(self, x: torch.Tensor, packing: Packing | None) -> tuple[torch.Tensor, ...]:
        """Queries, keys and values of x from the one fused projection."""
        qkv = self.qkv(x)  # (B, S, 3*h*D) or (N, 3*h*D)
        if packing is not None:
            qkv = packing.unpack(qkv)  # (B, S, 3*h*D), zeros on padding
        batch, seq, _ = qkv.shape
        qkv = qkv.view(batch, seq, 3, self.h, self.head_size)  # (B, S, 3, h, D)
        return qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, h, S, D)

    def _cross_projections(self, query, key, value) -> tuple[torch.Tensor, ...]:
        """Queries, keys and values each from its own input, with the fused projection's rows
        for each: the same weights as self-attention."""
        weights = self.qkv.weight.chunk(3)  # queries, keys, values: (h*D, H) each
        biases = self.qkv.bias.chunk(3)
        projected = []
        for x, weight, bias in zip((query, key, value), weights, biases):
            y = F.linear(x, weight, bias)  # (B, S, h*D)
            projected.append(y.view(*y.shape[:2], self.h, self.head_size).transpose(1, 2))  # (B, h, S, D)
        return tuple(projected)

    def _attend(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None, need_weights: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        # q: (B, h, S_q, D); k, v: (B, h, S_k, D); mask: (B, S_k) True on real keys
        key_mask = None if mask is None else mask[:, None, None, :]  # (B, 1, 1, S_k)
        bias = None if self.offset_bias is None else self.offset_bias(q.size(2), k.size(2))  # (h, S_q, S_k)
        if self.attention == "manual" or need_weights:  # torch's kernel does not return weights
            return scaled_dot_product_attention(q, k, v, key_mask, bias)  # (B, h, S_q, D), (B, h, S_q, S_k)
        if key_mask is not None:
            # torch's kernel gives NaN for a query with no key at all (an all-padding
            # row); let such rows attend everywhere, then zero them as the manual path does.
            empty = ~mask.any(dim=-1)  # (B,)
            key_mask = key_mask | empty[:, None, None, None]
        attn_mask = key_mask
        if bias is not None:  # one additive mask: the bias, and -inf on padded keys
            attn_mask = bias if key_mask is None else bias.masked_fill(~key_mask, float("-inf"))  # (B, h, S_q, S_k)
        heads = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)  # (B, h, S_q, D)
        if mask is not None:
            heads = heads.masked_fill(empty[:, None, None, None], 0.0)
        return heads, None


class LayerNorm(nn.Module):
    """Normalise over the trailing ``norm_shape`` dimensions, then scale and shift."""

    def __init__(self, norm_shape: int | tuple[int, ...], eps: float = 1e-5):
        super().__init__()
        norm_shape = (norm_shape,) if isinstance(norm_shape, int) else tuple(norm_shape)
        self.norm_shape = norm_shape
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(norm_shape))  # gain
        self.bias = nn.Parameter(torch.zeros(norm_shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dims = tuple(range(-len(self.norm_shape), 0))
        centred = x - x.mean(dim=dims, keepdim=True)
        # The biased variance, as in the paper and torch: the mean square of the centred values, read
        # as a squared norm so that no tensor of squares is made.
        var = torch.linalg.vector_norm(centred, dim=dims, keepdim=True).square().div_(math.prod(self.norm_shape))
        rstd = torch.rsqrt(var + self.eps)
        # Without autograd (tagging), scaled in place: nothing else reads the centred values.
        normed = centred.mul_(rstd) if not torch.is_grad_enabled() else centred * rstd
        return torch.addcmul(self.bias, normed, self.weight)  # bias + normed * gain


class FeedForward(nn.Module):
    """Position-wise two-layer network with a ReLU between."""

    def __init__(self, hidden_n: int, ff_dim: int):
        super().__init__()
        self.up = nn.Linear(hidden_n, ff_dim)
        self.down = nn.Linear(ff_dim, hidden_n)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(relu(self.up(x), inplace=True))  # (B, S, H); up(x) is not kept by autograd


class LocalConvolution(nn.Module):
    """Each of the H dimensions of a word mixes in the same dimension of the words up to
    kernel // 2 on either side, with weights of its own (a depthwise convolution over positions):
    local context without attention. Padding is zeroed first, so no sentence sees another's
    padding, and with packing the tokens are put back into their sentences for the convolution.

    The convolution's weights are those of a grouped ``nn.Conv1d`` (so checkpoints name them
    ``conv.weight`` and ``conv.bias``), applied as one multiply-add per offset on the (B, S, H)
    layout itself: the same sums, without turning the batch into (B, H, S) and back, which took
    most of Conv1d's time on the CPU (docs/benchmarks.md).
    """

    def __init__(self, hidden_n: int, kernel: int):
        super().__init__()
        if kernel < 1 or kernel % 2 == 0:
            raise ValueError(f"the local convolution's width must be odd and positive, got {kernel}")
        self.conv = nn.Conv1d(hidden_n, hidden_n, kernel, padding=kernel // 2, groups=hidden_n)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, packing: Packing | None = None) -> torch.Tensor:
        # x: (B, S, H), or (N, H) with packing
        padded = packing.unpack(x) if packing is not None else x  # (B, S, H)
        if mask is not None and packing is None:
            padded = zero_padding(padded, mask)
        out = self._convolve(padded)  # (B, S, H)
        return packing.pack(out) if packing is not None else out

    def _convolve(self, x: torch.Tensor) -> torch.Tensor:
        # x: (B, S, H), zeros on padding. Output i is the bias plus, for each offset d within reach,
        # the input at i + d times that offset's weights (as Conv1d: a cross-correlation, zero-padded).
        # One contiguous row of H weights per offset -k//2 .. k//2: broadcasting Conv1d's (H, 1, k)
        # layout, a strided column of it, made each product much slower.
        weight = self.conv.weight[:, 0, :].t().contiguous()  # (k, H)
        reach = weight.size(0) // 2
        seq = x.size(1)
        out = torch.addcmul(self.conv.bias, x, weight[reach])  # (B, S, H): offset 0
        for d in range(1, min(reach, seq - 1) + 1):
            out[:, : seq - d].addcmul_(x[:, d:], weight[reach + d])  # the word d to the right
            out[:, d:].addcmul_(x[:, : seq - d], weight[reach - d])  # the word d to the left
        return out


class TransformerBlock(nn.Module):
    """Attention then feed-forward, each wrapped in dropout, a residual and a layer norm;
    with ``conv_kernel`` > 0, a LocalConvolution before them, wrapped the same way.

    norm_first=True (pre-norm): x + drop(f(norm(x))).
    norm_first=False (post-norm, as in the original Transformer): norm(x + drop(f(x))).
    """

    def __init__(
        self,
        hidden_n: int,
        h: int,
        ff_dim: int | None = None,
        dropout: float = 0.1,
        norm_first: bool = True,
        attention: str = "manual",
        max_offset: int = 0,
        conv_kernel: int = 0,
    ):
        super().__init__()
        self.convolution = LocalConvolution(hidden_n, conv_kernel) if conv_kernel > 0 else None
        self.norm_convolution = LayerNorm(hidden_n) if conv_kernel > 0 else None
        self.attention = MultiHeadAttention(hidden_n, h, attention=attention, max_offset=max_offset)
        self.feed_forward = FeedForward(hidden_n, 4 * hidden_n if ff_dim is None else ff_dim)
        self.norm_attention = LayerNorm(hidden_n)
        self.norm_feed_forward = LayerNorm(hidden_n)
        self.dropout = nn.Dropout(dropout)
        self.norm_first = norm_first

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None = None, packing: Packing | None = None, need_weights: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        # x: (B, S, H), or (N, H) with packing (the real tokens only); need_weights: also (B, h, S, S)
        if self.convolution is not None:
            if self.norm_first:
                x = x + self.dropout(self.convolution(self.norm_convolution(x), mask, packing))
            else:
                x = self.norm_convolution(x + self.dropout(self.convolution(x, mask, packing)))
        attended = self.attention(
            self.norm_attention(x) if self.norm_first else x, mask=mask, packing=packing, need_weights=need_weights
        )
        attended, weights = attended if need_weights else (attended, None)
        if self.norm_first:
            x = x + self.dropout(attended)
            x = x + self.dropout(self.feed_forward(self.norm_feed_forward(x)))
        else:
            x = self.norm_attention(x + self.dropout(attended))
            x = self.norm_feed_forward(x + self.dropout(self.feed_forward(x)))
        return (x, weights) if need_weights else x


def init_small_embedding_(embedding: nn.Embedding, std: float = 0.02) -> None:
    """N(0, std^2) rows and a zero padding row, in place.

    With N(0, 1) rows, Adam's steps of about lr per update need hundreds of updates
    to move a rarely seen row anywhere useful.
    """
    nn.init.normal_(embedding.weight, std=std)
    if embedding.padding_idx is not None:
        with torch.no_grad():
            embedding.weight[embedding.padding_idx].zero_()


class Transformer(nn.Module):
    """Token embeddings (+ optional learned positions), then ``n`` TransformerBlocks.

    emb_n: number of token embeddings (the vocabulary size); id ``pad_id`` is padding.
    Returns contextual vectors (B, S, hidden_n); the tag head lives in the LightningModule.
    Given a mask, the output is zero at padded positions, and when at least 10% of the
    batch is padding the blocks run on the real tokens alone (see ``Packing``).
    """

    def __init__(
        self,
        emb_n: int,
        hidden_n: int,
        n: int,
        h: int,
        ff_dim: int | None = None,
        dropout: float = 0.1,
        positional: bool = False,
        max_len: int = 256,
        norm_first: bool = True,
        pad_id: int = 0,
        embedding_init_std: float = 0.02,
        attention: str = "manual",
        max_offset: int = 0,
        conv_kernel: int = 0,
    ):
        super().__init__()
        if n < 1:
            raise ValueError(f"n (number of blocks) must be at least 1, got {n}")
        self.token_embedding = nn.Embedding(emb_n, hidden_n, padding_idx=pad_id)
        self.position_embedding = nn.Embedding(max_len, hidden_n) if positional else None
        # Small initial word embeddings; positions keep N(0, 1): every batch updates them,
        # and started small they stay too weak beside the word vectors for the encoder
        # to use word order well.
        init_small_embedding_(self.token_embedding, std=embedding_init_std)
        self.max_len = max_len
        self.dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            TransformerBlock(
                hidden_n, h, ff_dim=ff_dim, dropout=dropout, norm_first=norm_first, attention=attention,
                max_offset=max_offset, conv_kernel=conv_kernel,
            )
            for _ in range(n)
        )
        # Pre-norm leaves the residual stream un-normalised: normalise once at the end.
        self.final_norm = LayerNorm(hidden_n) if norm_first else nn.Identity()

    @property
    def window(self) -> int | None:
        """The longest sentence the encoder reads in one piece: max_len with positions (longer ones
        run in windows, postag.network.windows), None without (any length)."""
        return self.max_len if self.position_embedding is not None else None

    def forward(
        self,
        tokens: torch.Tensor,
        mask: torch.Tensor | None = None,
        extra: torch.Tensor | None = None,
        need_weights: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        # tokens: (B, S) ids; mask: (B, S) True on real tokens; extra: (B, S, H) added to the embeddings.
        # need_weights=True: also every block's attention weights, a list of n (B, h, S, S).
        x = self.token_embedding(tokens)  # (B, S, H)
        if extra is not None:
            x = x + extra
        if self.position_embedding is not None:
            seq = tokens.size(1)
            if seq > self.max_len:
                raise SequenceTooLongError(
                    f"sentence of {seq} tokens is longer than max_len={self.max_len} of the positional "
                    f"embeddings; train with a larger model.max_len"
                )
            x = x + self.position_embedding(torch.arange(seq, device=tokens.device))  # (S, H) broadcast
        packing = None
        # Compiled graphs keep the padded layout: the number of real tokens is data-dependent.
        # Nearly unpadded batches (length-bucketed ones) keep it too: packing would not pay.
        if mask is not None and not torch.compiler.is_compiling() and Packing.worth_it(mask):
            packing = Packing.from_mask(mask)
            x = packing.pack(x)  # (N, H)
        x = self.dropout(x)
        weights = []
        for block in self.blocks:
            if need_weights:
                x, block_weights = block(x, mask, packing, need_weights=True)
                weights.append(block_weights)  # (B, h, S, S)
            else:
                x = block(x, mask, packing)
        x = self.final_norm(x)
        if packing is not None:
            x = packing.unpack(x)  # (B, S, H), zeros on padding
        elif mask is not None:
            # Zeros on padding here too, so that compiled and eager outputs agree everywhere.
            x = zero_padding(x, mask)  # (B, S, H)
        return (x, weights) if need_weights else x
