"""The tag head: a token's hidden vector to a score per tag.

A tag made of several columns' values (a joint tag such as ``NOUN NN Number=Sing``) can be scored
as one class among the others (``joint_head="flat"``, one weight vector per joint tag), or
(``joint_head="columns"``) as the sum of a score for each of its values, one linear layer per
column, plus a bias of its own. Then a rare joint tag learns from every tag that shares a value
with it, the columns' scores can be trained on their own (``column_logits``, the loss's
``column_weight``), and the tagger still chooses among the joint tags seen in training, so that
its columns agree as they did there.

Shapes: B = sentences, S = tokens, H = hidden size, T = tags, C = columns, V = a column's values.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from postag.data import IGNORE_INDEX
from postag.data.tag_columns import joint_values

JOINT_HEADS = ("flat", "columns")


class ColumnsHead(nn.Module):
    """Scores joint tags as the sum of their columns' value scores and a bias per joint tag."""

    def __init__(self, hidden_n: int, tag_names: list[str], columns: int):
        super().__init__()
        split = [joint_values(name, columns) for name in tag_names]
        if any(len(values) != columns for values in split):
            bad = next(name for name, values in zip(tag_names, split) if len(values) != columns)
            raise ValueError(f"tag {bad!r} does not have the {columns} columns' values of a joint tag")
        self.values = [sorted({values[c] for values in split}) for c in range(columns)]
        # joint tag -> the index of its value in each column's layer
        index = [[self.values[c].index(values[c]) for c in range(columns)] for values in split]
        self.register_buffer("index", torch.tensor(index, dtype=torch.long).reshape(len(tag_names), columns))  # (T, C)
        self.columns = nn.ModuleList(nn.Linear(hidden_n, len(values)) for values in self.values)
        self.bias = nn.Parameter(torch.zeros(len(tag_names)))  # (T,)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        # The joint tags' weight vectors as sums of their values': one matrix product for all tags.
        weight = sum(layer.weight[self.index[:, c]] for c, layer in enumerate(self.columns))  # (T, H)
        bias = self.bias + sum(layer.bias[self.index[:, c]] for c, layer in enumerate(self.columns))  # (T,)
        return F.linear(hidden, weight, bias)  # (B, S, T)

    def column_logits(self, hidden: torch.Tensor) -> list[torch.Tensor]:
        """Each column's own value scores: C tensors (B, S, V)."""
        return [layer(hidden) for layer in self.columns]

    def column_targets(self, labels: torch.Tensor) -> list[torch.Tensor]:
        """Each column's value index of joint tag labels (B, S); IGNORE_INDEX where the label is,
        or is past the head's tags (a tag training never saw)."""
        known = (labels >= 0) & (labels < len(self.index))
        index = self.index[labels.clamp(0, len(self.index) - 1)]  # (B, S, C)
        return [index[..., c].masked_fill(~known, IGNORE_INDEX) for c in range(len(self.columns))]


def tag_head(hidden_n: int, tag_names: list[str], tag_columns: int = 1, joint_head: str = "flat") -> nn.Module:
    """The head for ``tag_names``: a linear layer, or for a joint tag of several columns with
    ``joint_head="columns"`` a ColumnsHead."""
    if joint_head not in JOINT_HEADS:
        raise ValueError(f"model.joint_head must be one of {', '.join(JOINT_HEADS)}, got {joint_head!r}")
    if tag_columns > 1 and joint_head == "columns":
        return ColumnsHead(hidden_n, tag_names, tag_columns)
    return nn.Linear(hidden_n, len(tag_names))
