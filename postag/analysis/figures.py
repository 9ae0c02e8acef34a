"""Figures for TensorBoard and the command line: per-tag accuracy, confusions, attention.

Each function returns a matplotlib figure; the caller logs or saves it and closes it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    return plt


def _plain(labels: Sequence[str]) -> list[str]:
    """Labels drawn as they are: matplotlib reads text between two '$' as a formula ("$ $>VB")."""
    return [label.replace("$", r"\$") for label in labels]


def per_tag_figure(rows: list[dict], title: str, most_frequent: int | None = None):
    """Bar chart of per-tag accuracy, tags sorted by support; absent tags marked, not drawn as 0.
    With ``most_frequent``, only that many of the most frequent tags: a joint tag set has hundreds,
    whose chart would be unreadable and take seconds to draw."""
    plt = _pyplot()

    ordered = sorted(rows, key=lambda r: -r["support"])
    if most_frequent is not None and len(ordered) > most_frequent:
        title = f"{title}, the {most_frequent} most frequent of {len(ordered)} tags"
        ordered = ordered[:most_frequent]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.28 * len(ordered)), 3.6))
    positions = range(len(ordered))
    heights = [r["accuracy"] if r["accuracy"] is not None else 0.0 for r in ordered]
    bars = ax.bar(positions, heights, color="tab:blue")
    for bar, row in zip(bars, ordered):
        if row["accuracy"] is None:
            ax.text(bar.get_x() + bar.get_width() / 2, 0.02, "absent", rotation=90, ha="center", va="bottom", fontsize=7)
    ax.set_xticks(list(positions), _plain([r["tag"] for r in ordered]), rotation=90, fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("accuracy")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def confusion_figure(confusion: torch.Tensor, tag_names: list[str], title: str, top: int = 20):
    """Row-normalised confusion matrix of the ``top`` tags with the most errors.

    All 44 tags would make unreadable cells; the tags that are most often confused
    (as the true or the predicted tag) are the ones worth reading.
    """
    plt = _pyplot()

    confusion = confusion.double()
    errors = confusion.clone()
    errors.fill_diagonal_(0)
    involvement = errors.sum(dim=0) + errors.sum(dim=1)
    keep = [int(i) for i in involvement.argsort(descending=True)[:top] if involvement[i] > 0]
    if not keep:  # no errors at all: show the most frequent tags
        keep = [int(i) for i in confusion.sum(dim=1).argsort(descending=True)[:top]]
    keep.sort(key=lambda i: tag_names[i])
    sub = confusion[keep][:, keep]
    support = confusion[keep].sum(dim=1, keepdim=True)  # full rows: errors outside the shown tags count too
    normalised = torch.where(support > 0, sub / support.clamp_min(1), torch.zeros_like(sub))
    names = [tag_names[i] for i in keep]
    size = 0.38 * len(names) + 2.0
    fig, ax = plt.subplots(figsize=(size + 1.0, size))
    image = ax.imshow(normalised.numpy(), cmap="Blues", vmin=0.0, vmax=1.0)
    ax.set_xticks(range(len(names)), _plain(names), rotation=90, fontsize=8)
    ax.set_yticks(range(len(names)), _plain(names), fontsize=8)
    ax.set_xlabel("predicted tag")
    ax.set_ylabel("true tag")
    for r in range(len(names)):
        for c in range(len(names)):
            value = float(normalised[r, c])
            if r != c and value >= 0.01:  # label the confusions, not the (large) diagonal
                ax.text(c, r, f"{value:.2f}", ha="center", va="center", fontsize=6, color="black")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true tag's tokens")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def attention_figure(queries: Sequence[str], keys: Sequence[str], weights: torch.Tensor, title: str):
    """One panel per block (rows) and head (columns): the attention weights of one sentence.

    weights: (n, h, S, S), queries down the side (each row sums to 1), keys along the bottom.
    ``queries`` label the rows (a word with its tags, say), ``keys`` the columns.
    """
    plt = _pyplot()
    weights = weights.detach().float().cpu()
    blocks, heads, seq, _ = weights.shape
    side = 0.9 + 0.2 * seq  # inches a panel, so that every word can be labelled
    fig, axes = plt.subplots(
        blocks, heads, figsize=(heads * side + 1.6, blocks * side + 0.6), squeeze=False, constrained_layout=True
    )
    for b in range(blocks):
        for h in range(heads):
            ax = axes[b][h]
            image = ax.imshow(weights[b, h].numpy(), cmap="viridis", vmin=0.0, vmax=1.0)
            ax.set_xticks(range(seq), _plain(keys), rotation=90, fontsize=7)
            ax.set_yticks(range(seq), _plain(queries) if h == 0 else [""] * seq, fontsize=7)
            ax.set_title(f"block {b + 1}, head {h + 1}", fontsize=8)
    fig.colorbar(image, ax=axes, fraction=0.02, pad=0.01, label="attention weight")
    fig.suptitle(title, fontsize=9)
    return fig


def offset_figure(profile: torch.Tensor, offsets: Sequence[int], title: str):
    """Heatmap of the mean attention by relative offset: one row per block and head.

    profile: (n, h, len(offsets)); entry [b, h, i] is the mean weight a query gives the key at
    ``offsets[i]`` from it (-1: the previous word, 0: itself, +1: the next).
    """
    plt = _pyplot()
    blocks, heads, _ = profile.shape
    table = profile.detach().float().cpu().reshape(blocks * heads, -1)
    names = [f"block {b + 1} head {h + 1}" for b in range(blocks) for h in range(heads)]
    fig, ax = plt.subplots(figsize=(0.55 * len(offsets) + 2.4, 0.4 * len(names) + 1.4))
    image = ax.imshow(table.numpy(), cmap="magma", vmin=0.0, vmax=max(float(table.max()), 1e-6))
    ax.set_xticks(range(len(offsets)), [f"{o:+d}" if o else "0" for o in offsets], fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_xlabel("key position - query position")
    for r in range(table.size(0)):
        for c in range(table.size(1)):
            value = float(table[r, c])
            colour = "white" if value < 0.5 * float(table.max()) else "black"  # readable on dark and light cells
            ax.text(c, r, f"{value:.2f}", ha="center", va="center", fontsize=6, color=colour)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="mean attention weight")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def similarity_figure(similarity: torch.Tensor, title: str):
    """Cosine similarity of the position embeddings, positions x positions (1-based)."""
    plt = _pyplot()
    size = similarity.size(0)
    fig, ax = plt.subplots(figsize=(5.2, 4.4))
    extent = (0.5, size + 0.5, size + 0.5, 0.5)
    image = ax.imshow(similarity.detach().float().cpu().numpy(), cmap="RdBu_r", vmin=-1.0, vmax=1.0, extent=extent)
    ax.set_xlabel("position")
    ax.set_ylabel("position")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="cosine similarity")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig
