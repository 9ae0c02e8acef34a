"""What the encoder's attention and position embeddings say, summed up as tensors.

``OffsetProfile``: how much each head attends to the word at each relative offset, over a
data set; ``position_similarity``: how alike the learned position embeddings are.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


class OffsetProfile:
    """The mean attention weight each block and head gives the key ``d`` words away from
    the query, for each offset d in [-max_offset, max_offset], over every batch seen.

    Only pairs of real tokens count: a query at the sentence's first word has no key at -1,
    so that offset's mean is over the queries that have one.
    """

    def __init__(self, max_offset: int = 5):
        if max_offset < 0:
            raise ValueError(f"max_offset must be 0 or more, got {max_offset}")
        self.offsets = list(range(-max_offset, max_offset + 1))
        self.sums: torch.Tensor | None = None  # (n, h, offsets)
        self.counts = torch.zeros(len(self.offsets))  # query-key pairs at each offset

    @torch.no_grad()
    def update(self, weights: list[torch.Tensor], mask: torch.Tensor) -> None:
        # weights: n of (B, h, S, S); mask: (B, S) True on real tokens
        stacked = torch.stack([w.float() for w in weights], dim=2)  # (B, h, n, S, S)
        sums = torch.zeros(stacked.size(2), stacked.size(1), len(self.offsets))  # (n, h, offsets)
        seq = mask.size(1)
        for i, d in enumerate(self.offsets):
            if abs(d) >= seq:
                continue
            diagonal = stacked.diagonal(offset=d, dim1=-2, dim2=-1)  # (B, h, n, S - |d|): w[q, q + d]
            # both the query and the key at d from it are real tokens
            pairs = mask[:, max(0, -d) : seq - max(0, d)] & mask[:, max(0, d) : seq - max(0, -d)]  # (B, S - |d|)
            sums[:, :, i] = (diagonal * pairs[:, None, None, :]).sum(dim=(0, 3)).T.cpu()  # (n, h)
            self.counts[i] += float(pairs.sum())
        self.sums = sums if self.sums is None else self.sums + sums

    def mean(self) -> torch.Tensor:
        """(n, h, offsets): mean weight at each offset; 0 where no pair was seen."""
        if self.sums is None:
            raise ValueError("no attention weights seen yet")
        return self.sums / self.counts.clamp_min(1)

    def reset(self) -> None:
        self.sums = None
        self.counts.zero_()


def position_similarity(positions: torch.Tensor) -> torch.Tensor:
    """(P, H) position embeddings -> (P, P) cosine similarity of every pair."""
    unit = F.normalize(positions.detach().float(), dim=-1)
    return unit @ unit.T
