"""The training loss of a tagging network: masked cross-entropy, and the two terms a recipe may add.

- Distillation (``model.teacher``, ``distill_weight``): part of the loss is the cross-entropy
  against a trained teacher's tag probabilities.
- Column scores (``model.column_weight``): for a joint tag scored by its columns
  (``model.joint_head=columns``, postag.network.tag_head), each column's own value scores are
  also trained, a cross-entropy per column added at this weight (one weight for every column, or
  a list of one per column), as one loss per task is in multi-task taggers.
- Adversarial training (``model.adversarial``): each training batch runs twice, once as it is and
  once with every sentence's input vectors (word embedding + word features + position, before the
  first block) moved a small step in the direction that raises the loss most, the gradient of the
  first pass; the loss adds both passes' cross-entropies. A word's vector cannot lean on one exact
  point of the embedding space, which is what rare and unseen words lack; it costs a second
  forward and backward pass a batch.

Shapes: B = sentences, S = tokens, H = hidden size, T = tags.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from postag.data import IGNORE_INDEX, Batch
from postag.network.tag_head import ColumnsHead
from postag.network.tagging import TaggingNetwork

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


def distillation_loss(logits: torch.Tensor, teacher_probs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the student's logits against the teacher's probabilities, averaged over
    the tokens the gold cross-entropy scores (``targets`` flattened, IGNORE_INDEX elsewhere).

    logits, teacher_probs: (B, S, T). It differs from KL(teacher || student) by the teacher's
    entropy, a constant for the student, so the gradients are the same.
    """
    scored = targets != IGNORE_INDEX  # (B*S,)
    student = F.log_softmax(logits.flatten(0, 1)[scored].float(), dim=-1)  # (N, T)
    return -(teacher_probs.flatten(0, 1)[scored] * student).sum(dim=-1).mean()


class TaggingLoss:
    """The loss of a batch: each tagger's masked cross-entropy (with label smoothing), mixed with
    the teacher's probabilities at ``distill_weight`` when there is a teacher, plus the adversarial
    pass's cross-entropy when ``adversarial`` > 0, and each column's cross-entropy at
    ``column_weight`` where the head scores columns; the mean over taggers. Validation and test score
    the plain cross-entropy, comparable with any other run."""

    def __init__(
        self,
        label_smoothing: float = 0.0,
        distill_weight: float = 0.5,
        adversarial: float = 0.0,
        column_weight: float | Sequence[float] = 1.0,
    ):
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"model.label_smoothing must be in [0, 1), got {label_smoothing}")
        if not 0.0 <= distill_weight <= 1.0:
            raise ValueError(f"model.distill_weight must be in [0, 1], got {distill_weight}")
        if adversarial < 0.0:
            raise ValueError(f"model.adversarial must be 0 (off) or positive, got {adversarial}")
        weights = [column_weight] if isinstance(column_weight, (int, float)) else list(column_weight)
        if not weights or any(not isinstance(w, (int, float)) or w < 0.0 for w in weights):
            raise ValueError(
                f"model.column_weight must be 0 (off), a positive number or a list of one per column, got {column_weight}"
            )
        self.label_smoothing, self.distill_weight, self.adversarial = label_smoothing, distill_weight, adversarial
        # a plain float or list, as the config and checkpoints hold it
        self.column_weight = float(column_weight) if isinstance(column_weight, (int, float)) else [float(w) for w in weights]

    def column_weights(self, columns: int) -> list[float]:
        """The weight of each of a joint tag's ``columns`` columns."""
        if isinstance(self.column_weight, float):
            return [self.column_weight] * columns
        if len(self.column_weight) != columns:
            raise ValueError(
                f"model.column_weight lists {len(self.column_weight)} weights for a tag of {columns} columns; "
                f"expected one per column of data.tag_column, or a single number"
            )
        return self.column_weight

    @property
    def settings(self) -> dict:
        """The constructor's arguments, as the model config and checkpoints hold them."""
        return {
            "label_smoothing": self.label_smoothing, "distill_weight": self.distill_weight,
            "adversarial": self.adversarial, "column_weight": self.column_weight,
        }

    def __call__(
        self, net: TaggingNetwork, batch: Batch, training: bool, teacher: TaggingNetwork | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(the loss, the taggers' combined tag scores (B, S, T)) of one batch."""
        # Padded positions carry IGNORE_INDEX and are skipped, and so are gold tags the training
        # data never had (the label past the head), which no logit can stand for: the accuracies
        # count those as wrong.
        targets = batch.labels.masked_fill(batch.labels == len(net.tag_names), IGNORE_INDEX).flatten()

        def cross_entropy(logits: torch.Tensor) -> torch.Tensor:
            return F.cross_entropy(
                logits.flatten(0, 1), targets, ignore_index=IGNORE_INDEX, label_smoothing=self.label_smoothing
            )

        adversarial = training and self.adversarial > 0
        inputs = [] if adversarial else None
        # each column's weight where the head scores columns and training adds their losses
        weights = self.column_weights(len(net.head.columns)) if training and isinstance(net.head, ColumnsHead) else []
        columns = [] if any(weights) else None
        member_logits = net.member_logits(batch, inputs=inputs, columns=columns)  # each (B, S, T)
        losses = [cross_entropy(logits) for logits in member_logits]
        adversarial_losses = []
        if adversarial:
            # A second pass with each tagger's inputs moved along the gradient of its own loss.
            grads = torch.autograd.grad(sum(losses), [extra for extra, _ in inputs], retain_graph=True)
            perturbations = [
                adversarial_perturbation(grad, mask, self.adversarial) for grad, (_, mask) in zip(grads, inputs)
            ]
            adversarial_losses = [cross_entropy(x) for x in net.member_logits(batch, perturbations=perturbations)]
        if teacher is not None and training:
            with torch.no_grad():
                teacher_probs = teacher(batch).float().softmax(dim=-1)  # (B, S, T)
            weight = self.distill_weight
            losses = [
                (1.0 - weight) * loss + weight * distillation_loss(logits, teacher_probs, targets)
                for loss, logits in zip(losses, member_logits)
            ]
        if adversarial_losses:
            losses = [loss + adversarial_loss for loss, adversarial_loss in zip(losses, adversarial_losses)]
        if columns:  # each tagger's columns, each against its value of the gold joint tag
            column_targets = [t.flatten() for t in net.head.column_targets(batch.labels)]
            losses = [
                loss + sum(
                    w * F.cross_entropy(x.flatten(0, 1), t, ignore_index=IGNORE_INDEX, label_smoothing=self.label_smoothing)
                    for w, x, t in zip(weights, values, column_targets)
                )
                for loss, values in zip(losses, columns)
            ]
        # Each tagger learns from its own loss; the mean keeps the loss on one tagger's scale.
        return torch.stack(losses).mean(), net.combine(member_logits)


# The loss's settings: its constructor's arguments, as the model config and checkpoints hold them
SETTINGS = tuple(inspect.signature(TaggingLoss).parameters)
