"""The LightningModule: encoder, tag head, masked cross-entropy, accuracy metrics."""

from __future__ import annotations

import math
import random

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics.classification import MulticlassAccuracy, MulticlassConfusionMatrix

from postag.adversarial import adversarial_perturbation
from postag.data import CHECKPOINT_KEY, IGNORE_INDEX, N_SHAPES, UNK_ID, Batch, Vocabularies
from postag.model import SequenceTooLongError, Transformer
from postag.word_features import WordFeatures
from postag.report import UNSEEN_TAGS, per_tag_rows
from postag.windows import windowed


def _as_random_state(state) -> tuple:
    """random.getstate() comes back from a checkpoint with lists where tuples were."""
    version, internal, gauss = state
    return (version, tuple(internal), gauss)


def distillation_loss(logits: torch.Tensor, teacher_probs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the student's logits against the teacher's probabilities, averaged over
    the tokens the gold cross-entropy scores (``targets`` flattened, IGNORE_INDEX elsewhere).

    logits, teacher_probs: (B, S, T). It differs from KL(teacher || student) by the teacher's
    entropy, a constant for the student, so the gradients are the same.
    """
    scored = targets != IGNORE_INDEX  # (B*S,)
    student = F.log_softmax(logits.flatten(0, 1)[scored].float(), dim=-1)  # (N, T)
    return -(teacher_probs.flatten(0, 1)[scored] * student).sum(dim=-1).mean()


# TaggerModule's arguments that the data sets, each the size of one vocabulary
VOCABULARY_SIZES = {
    "vocab_size": "words",
    "char_vocab_size": "chars",
    "suffix_vocab_size": "suffixes",
    "affix_vocab_size": "affixes",
    "norm_vocab_size": "norms",
}


def data_arguments(vocab: Vocabularies) -> dict:
    """The arguments of TaggerModule that only the data knows: its tag names and vocabulary sizes."""
    return {"tag_names": vocab.tags.itos, **{arg: len(getattr(vocab, name)) for arg, name in VOCABULARY_SIZES.items()}}


def features_of(word_features: WordFeatures, batch: Batch) -> torch.Tensor | None:
    """A tagger's word features of a batch's words: (B, S, H), or None with none switched on."""
    return word_features(batch.chars, batch.shapes, batch.suffixes, batch.affixes, batch.norms)


class TaggerModule(L.LightningModule):
    """A hand-built Transformer encoder with a linear layer over the tags.

    Sizes from the data (``vocab_size``, ``tag_names``) come from the DataModule at
    instantiation; everything else from the ``model`` config group. Hyperparameters
    are plain values so checkpoints load with ``torch.load(weights_only=True)``.
    """

    def __init__(
        self,
        vocab_size: int,
        tag_names: list[str],
        char_vocab_size: int = 0,
        suffix_vocab_size: int = 0,
        affix_vocab_size: int = 0,
        norm_vocab_size: int = 0,
        hidden_n: int = 128,
        n: int = 3,
        h: int = 3,
        ff_dim: int | None = None,
        dropout: float = 0.1,
        positional: bool = False,
        max_len: int = 256,
        norm_first: bool = True,
        lr: float = 0.005,
        weight_decay: float = 0.01,
        betas: tuple[float, float] = (0.9, 0.98),
        eps: float = 1e-8,
        warmup_steps: int = 200,
        lr_schedule: str = "cosine",
        char_n: int = 0,
        char_kernels: tuple[int, ...] = (3,),
        shape_features: bool = False,
        affix_features: bool = False,
        norm_features: bool = False,
        feature_dropout: float = 0.0,
        attention: str = "manual",
        max_offset: int = 0,
        conv_kernel: int = 0,
        label_smoothing: float = 0.0,
        compile: bool = False,
        ensemble: int = 1,
        teacher: str | None = None,
        distill_weight: float = 0.5,
        adversarial: float = 0.0,
    ):
        super().__init__()
        if ensemble < 1:
            raise ValueError(f"model.ensemble must be at least 1 (number of taggers), got {ensemble}")
        if hidden_n < 1:
            raise ValueError(f"model.hidden_n must be at least 1, got {hidden_n}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"model.dropout must be in [0, 1), got {dropout}")
        if not 0.0 <= feature_dropout < 1.0:
            raise ValueError(f"model.feature_dropout must be in [0, 1), got {feature_dropout}")
        if char_n < 0:
            raise ValueError(f"model.char_n must be 0 (off) or positive, got {char_n}")
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"model.label_smoothing must be in [0, 1), got {label_smoothing}")
        if not 0.0 <= distill_weight <= 1.0:
            raise ValueError(f"model.distill_weight must be in [0, 1], got {distill_weight}")
        if adversarial < 0.0:
            raise ValueError(f"model.adversarial must be 0 (off) or positive, got {adversarial}")
        if lr_schedule not in ("cosine", "constant"):
            raise ValueError(f"model.lr_schedule must be 'cosine' or 'constant', got {lr_schedule!r}")
        tag_names = list(tag_names)
        betas = tuple(float(b) for b in betas)
        char_kernels = tuple(int(k) for k in char_kernels)
        self.save_hyperparameters()
        self.tag_names = tag_names
        # The vocabularies the model reads and writes; saved with every checkpoint (on_save_checkpoint),
        # set by whoever builds the model from data (postag.runs.build_model) or loads it.
        self.vocab: Vocabularies | None = None
        # model.teacher: a trained tagger whose probabilities the training loss also learns from
        # (attach_teacher). Held in a tuple so that its weights never join this model's parameters
        # or checkpoints; only its path is a hyperparameter.
        self._teacher: tuple[TaggerModule, ...] = ()

        def member() -> nn.ModuleDict:
            """One tagger: word-internal features, the encoder and the tag head."""
            return nn.ModuleDict(
                {
                    "encoder": Transformer(
                        emb_n=vocab_size,
                        hidden_n=hidden_n,
                        n=n,
                        h=h,
                        ff_dim=ff_dim,
                        dropout=dropout,
                        positional=positional,
                        max_len=max_len,
                        norm_first=norm_first,
                        attention=attention,
                        max_offset=max_offset,
                        conv_kernel=conv_kernel,
                    ),
                    "word_features": WordFeatures(
                        hidden_n,
                        char_vocab_size=char_vocab_size,
                        char_n=char_n,
                        char_kernels=char_kernels,
                        n_shapes=N_SHAPES if shape_features else 0,
                        suffix_vocab_size=suffix_vocab_size if shape_features else 0,
                        feature_dropout=feature_dropout,
                        affix_vocab_size=affix_vocab_size if affix_features else 0,
                        norm_vocab_size=norm_vocab_size if norm_features else 0,
                    ),
                    "head": nn.Linear(hidden_n, len(tag_names)),
                }
            )

        first = member()
        # The first tagger's parts are attributes of the module itself, so that a one-tagger
        # model keeps the parameter names (and checkpoints) it always had.
        self.encoder, self.word_features, self.head = first["encoder"], first["word_features"], first["head"]
        # model.ensemble > 1: more taggers, each with its own random initialisation and dropout,
        # trained side by side on the same batches; predictions average their probabilities.
        self.extra_members = nn.ModuleList(member() for _ in range(ensemble - 1))
        # Labels run one past the head's tags: that last class is every gold tag the training data
        # never had (Vocabularies.unseen_tag_id), never predicted, so always scored as wrong.
        num_tags = len(tag_names) + 1
        # One metric object per stage: Lightning computes and resets each at epoch end.
        self.train_acc = MulticlassAccuracy(num_tags, average="micro", ignore_index=IGNORE_INDEX)
        self.val_acc = MulticlassAccuracy(num_tags, average="micro", ignore_index=IGNORE_INDEX)
        self.test_acc = MulticlassAccuracy(num_tags, average="micro", ignore_index=IGNORE_INDEX)
        # Words outside the vocabulary (<unk>) versus the rest: where a words-only model loses.
        self.test_acc_oov = MulticlassAccuracy(num_tags, average="micro", ignore_index=IGNORE_INDEX)
        self.test_acc_known = MulticlassAccuracy(num_tags, average="micro", ignore_index=IGNORE_INDEX)
        # Per-tag accuracy comes from the confusion matrix, whose row sums tell an
        # absent tag (support 0) from an always-wrong one.
        self.val_confusion = MulticlassConfusionMatrix(num_tags, ignore_index=IGNORE_INDEX)
        self.test_confusion = MulticlassConfusionMatrix(num_tags, ignore_index=IGNORE_INDEX)
        # stage -> the last epoch's per-tag rows and confusion matrix (rows: gold, columns: predicted)
        self.per_tag: dict[str, list[dict]] = {}
        self.confusion: dict[str, torch.Tensor] = {}

    def attach_teacher(self, teacher: TaggerModule) -> None:
        """Train on the teacher's tag probabilities as well as the gold tags (``distill_weight``)."""
        teacher.eval().requires_grad_(False)
        self._teacher = (teacher,)

    def on_fit_start(self) -> None:
        for teacher in self._teacher:
            teacher.to(self.device)

    # Random states travel with checkpoints, so that a run resumed from the end of an
    # epoch draws the same dropout masks and word dropout as the run it continues.
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["rng_states"] = {"torch": torch.get_rng_state(), "python": random.getstate()}
        if self.vocab is not None:
            checkpoint[CHECKPOINT_KEY] = self.vocab.state_dict()

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        states = checkpoint.get("rng_states")
        if states:
            torch.set_rng_state(states["torch"])
            random.setstate(_as_random_state(states["python"]))

    def configure_model(self) -> None:
        if self.hparams.compile and not getattr(self, "_compiled", False):
            self.compile_encoders()
            self._compiled = True

    def compile_encoders(self) -> None:
        """torch.compile every tagger's encoder, in place: parameter names, and so checkpoints,
        stay those of the eager model."""
        for _, encoder, _ in self.members():
            encoder.compile(dynamic=True)  # batch and sentence lengths change from batch to batch

    def members(self) -> list[tuple[WordFeatures, Transformer, nn.Linear]]:
        """(word features, encoder, head) of every tagger, the module's own first."""
        others = [(m["word_features"], m["encoder"], m["head"]) for m in self.extra_members]
        return [(self.word_features, self.encoder, self.head), *others]

    def record_fields(self) -> set[str]:
        """The fields of a word's record that the model reads: the word ids and each tagger's
        word features (Vocabularies.for_fields)."""
        return {"words"}.union(*(word_features.fields_read for word_features, _, _ in self.members()))

    def member_logits(
        self,
        batch: Batch,
        members: list | None = None,
        inputs: list | None = None,
        perturbations: list[torch.Tensor] | None = None,
    ) -> list[torch.Tensor]:
        """Each tagger's logits (of ``members``, by default all), (B, S, T) each.

        Adversarial training: ``inputs`` receives each tagger's (word features, mask) as its
        encoder sees them, windows and all, so that the loss can be differentiated by them;
        ``perturbations`` (one per tagger, of those shapes) are added to them.
        """
        logits = []
        for i, (word_features, encoder, head) in enumerate(self.members() if members is None else members):

            def tagger(part: Batch) -> torch.Tensor:
                extra = features_of(word_features, part)  # (B, S, H) or None
                if inputs is not None:
                    if extra is None:  # what the embeddings are added to, so that the gradient is theirs
                        hidden_n = encoder.token_embedding.embedding_dim
                        extra = encoder.token_embedding.weight.new_zeros(*part.tokens.shape, hidden_n).requires_grad_()
                    inputs.append((extra, part.mask))
                if perturbations is not None:
                    extra = perturbations[i] if extra is None else extra + perturbations[i]
                return head(encoder(part.tokens, part.mask, extra))  # (B, S, T)

            if encoder.position_embedding is None:
                logits.append(tagger(batch))
            else:  # longer sentences than the position table run in overlapping windows
                logits.append(windowed(tagger, batch, encoder.max_len))
        return logits

    @staticmethod
    def combine(logits: list[torch.Tensor]) -> torch.Tensor:
        """One tagger's logits as they are; several: the log of their averaged probabilities."""
        if len(logits) == 1:
            return logits[0]
        log_probs = torch.stack([F.log_softmax(x.float(), dim=-1) for x in logits])  # (K, B, S, T)
        return torch.logsumexp(log_probs, dim=0) - math.log(len(logits))  # (B, S, T)

    def forward(self, batch: Batch) -> torch.Tensor:
        return self.combine(self.member_logits(batch))  # (B, S, T)

    def forward_with_attention(self, batch: Batch) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The tag scores, as ``forward`` gives them, and the attention weights of every block
        of the first tagger: a list of n (B, h, S, S). Sentences must fit the position table."""
        (word_features, encoder, head), *others = self.members()
        if encoder.position_embedding is not None and batch.tokens.size(1) > encoder.max_len:
            raise SequenceTooLongError(
                f"attention weights are for sentences of up to max_len={encoder.max_len} tokens, "
                f"got {batch.tokens.size(1)}"
            )
        extra = features_of(word_features, batch)  # (B, S, H) or None
        hidden, weights = encoder(batch.tokens, batch.mask, extra, need_weights=True)
        return self.combine([head(hidden), *self.member_logits(batch, others)]), weights

    def model_step(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        # Cross-entropy on raw logits; padded positions carry IGNORE_INDEX and are skipped, and so
        # are gold tags the training data never had (the label past the head), which no logit can
        # stand for: the accuracies count those as wrong.
        # Each tagger learns from its own loss; the mean keeps the loss on one tagger's scale.
        targets = batch.labels.masked_fill(batch.labels == len(self.tag_names), IGNORE_INDEX).flatten()

        def cross_entropy(logits: torch.Tensor) -> torch.Tensor:
            return F.cross_entropy(
                logits.flatten(0, 1), targets, ignore_index=IGNORE_INDEX, label_smoothing=self.hparams.label_smoothing
            )

        adversarial = self.training and self.hparams.adversarial > 0
        inputs = [] if adversarial else None
        member_logits = self.member_logits(batch, inputs=inputs)  # each (B, S, T)
        losses = [cross_entropy(logits) for logits in member_logits]
        adversarial_losses = []
        if adversarial:
            # A second pass with each tagger's inputs moved along the gradient of its own loss.
            grads = torch.autograd.grad(sum(losses), [extra for extra, _ in inputs], retain_graph=True)
            perturbations = [
                adversarial_perturbation(grad, mask, self.hparams.adversarial) for grad, (_, mask) in zip(grads, inputs)
            ]
            adversarial_losses = [cross_entropy(x) for x in self.member_logits(batch, perturbations=perturbations)]
        if self._teacher and self.training:
            # Part of the loss from the teacher's probabilities, on the tokens the cross-entropy scores;
            # validation and test keep the plain cross-entropy, comparable with any other run.
            with torch.no_grad():
                teacher_probs = self._teacher[0](batch).float().softmax(dim=-1)  # (B, S, T)
            weight = self.hparams.distill_weight
            losses = [
                (1.0 - weight) * loss + weight * distillation_loss(logits, teacher_probs, targets)
                for loss, logits in zip(losses, member_logits)
            ]
        if adversarial_losses:
            losses = [loss + adversarial_loss for loss, adversarial_loss in zip(losses, adversarial_losses)]
        loss = torch.stack(losses).mean()
        return loss, self.combine(member_logits).argmax(dim=-1)

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        loss, preds = self.model_step(batch)
        if not torch.isfinite(loss):
            # Stop at once: with a NaN loss every later step only spreads NaN into the weights.
            raise FloatingPointError(
                f"training loss is {loss.item()} at epoch {self.current_epoch}, step {self.global_step} "
                f"(batch {batch_idx}); try a lower model.lr, trainer.gradient_clip_val or 32-true precision"
            )
        self.train_acc(preds, batch.labels)
        size = len(batch.tokens)
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=size)
        self.log("train/acc", self.train_acc, on_step=False, on_epoch=True, prog_bar=True, batch_size=size)
        return loss

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        loss, preds = self.model_step(batch)
        self.val_acc(preds, batch.labels)
        self.val_confusion.update(preds, batch.labels)
        size = len(batch.tokens)
        self.log("val/loss", loss, on_epoch=True, prog_bar=True, batch_size=size)
        self.log("val/acc", self.val_acc, on_epoch=True, prog_bar=True, batch_size=size)

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        loss, preds = self.model_step(batch)
        self.test_acc(preds, batch.labels)
        self.test_confusion.update(preds, batch.labels)
        oov = batch.tokens == UNK_ID
        self.test_acc_oov.update(preds, batch.labels.masked_fill(~oov, IGNORE_INDEX))
        self.test_acc_known.update(preds, batch.labels.masked_fill(oov, IGNORE_INDEX))
        size = len(batch.tokens)
        self.log("test/loss", loss, on_epoch=True, batch_size=size)
        self.log("test/acc", self.test_acc, on_epoch=True, batch_size=size)
        self.log("test/acc_oov", self.test_acc_oov, on_epoch=True, batch_size=size)
        self.log("test/acc_known", self.test_acc_known, on_epoch=True, batch_size=size)

    def _log_per_tag(self, stage: str, confusion_metric: MulticlassConfusionMatrix) -> None:
        """Per-tag accuracy into the logs; the rows and the confusion matrix are kept in
        ``per_tag[stage]`` and ``confusion[stage]`` for the figure callbacks and the reports
        (postag.runs.per_tag_of_test)."""
        confusion = confusion_metric.compute().cpu()
        confusion_metric.reset()
        rows = per_tag_rows(confusion, self.label_names)
        present = {
            f"{stage}/acc_per_tag/{r['tag']}": r["accuracy"]
            for r in rows
            if r["accuracy"] is not None and r["tag"] != UNSEEN_TAGS
        }
        # identical on every process (the confusion matrix is synced), so syncing changes nothing
        self.log_dict(present, on_epoch=True, sync_dist=True)
        self.per_tag[stage], self.confusion[stage] = rows, confusion

    @property
    def label_names(self) -> list[str]:
        """The names of the metric classes: the model's tags, then the class of unseen gold tags."""
        return [*self.tag_names, UNSEEN_TAGS]

    def on_validation_epoch_end(self) -> None:
        self._log_per_tag("val", self.val_confusion)

    def on_test_epoch_end(self) -> None:
        self._log_per_tag("test", self.test_confusion)

    def configure_optimizers(self):
        hp = self.hparams
        # Decay weight matrices and embeddings only, not biases or layer-norm gains.
        decay = [p for p in self.parameters() if p.dim() >= 2]
        no_decay = [p for p in self.parameters() if p.dim() < 2]
        # The fused update is one kernel for all parameters where the default makes a dozen passes
        # over every state tensor: the step took 19% of a model=pos training step, fused 5%
        # (docs/benchmarks.md). Not with 16-mixed or bf16-mixed: Lightning's mixed-precision
        # plugin refuses to clip the gradients of a fused optimizer.
        precision = str(getattr(self._trainer, "precision", None))
        fused = all(p.device.type in ("cpu", "cuda") for p in self.parameters()) and not precision.endswith("-mixed")
        optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": hp.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=hp.lr,
            betas=tuple(hp.betas),
            eps=hp.eps,
            fused=fused,
        )
        total = max(1, int(self.trainer.estimated_stepping_batches))
        warmup = min(hp.warmup_steps, total)

        def lr_factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            if hp.lr_schedule == "constant":
                return 1.0
            progress = (step - warmup) / max(1, total - warmup)
            return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
