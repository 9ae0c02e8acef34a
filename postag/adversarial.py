"""Adversarial training on the input vectors (model.adversarial).

Each training batch is run twice: once as it is, and once with every sentence's input
vectors (word embedding + word features + position, before the first block) moved a small
step in the direction that raises the loss most, the gradient of the first pass. The loss
is the sum of both passes' cross-entropies. A word's vector cannot lean on one exact point
of the embedding space, which is what rare and unseen words lack; it costs a second forward
and backward pass a batch. Shapes: B = sentences, S = tokens, H = hidden size.
"""

from __future__ import annotations

import torch

# Below this gradient norm a sentence is left unperturbed (all padding, or a loss flat in it).
_TINY = 1e-12


def adversarial_perturbation(grad: torch.Tensor, mask: torch.Tensor, epsilon: float) -> torch.Tensor:
    """The step of size ``epsilon`` per real token along each sentence's gradient.

    grad: (B, S, H), the loss's gradient with respect to the input vectors; mask: (B, S), True
    on real tokens. Each sentence's step is its gradient scaled to a norm of
    epsilon * sqrt(real tokens), so its tokens move by epsilon on average whatever the
    sentence's length; zero on padding. Detached: the step is a constant of the second pass.
    """
    masked = grad.detach().float() * mask.unsqueeze(-1)  # (B, S, H), in fp32 under autocast too
    norms = torch.linalg.vector_norm(masked, dim=(1, 2))  # (B,)
    scale = epsilon * mask.sum(dim=1).float().sqrt() / norms.clamp_min(_TINY)  # (B,)
    scale = torch.where(norms > _TINY, scale, torch.zeros_like(scale))
    return (masked * scale[:, None, None]).to(grad.dtype)  # (B, S, H)
