"""The LightningModule: trains and evaluates a tagging network with its loss, metrics and optimizer."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping

import lightning as L
import torch
from torchmetrics.classification import MulticlassAccuracy, MulticlassConfusionMatrix

from postag.analysis.report import UNSEEN_TAGS, per_tag_rows
from postag.analysis.spans import SpanF1
from postag.data.span_tags import span_column_names
from postag.data import CHECKPOINT_KEY, IGNORE_INDEX, UNK_ID, Batch, Vocabularies
from postag.network.span_decoder import span_decoder
from postag.network.tagging import SETTINGS as NETWORK_SETTINGS
from postag.network.tagging import TaggingNetwork, best_tags
from postag.training.checkpoint_file import NET, NETWORK_PARTS, load_network
from postag.training.losses import SETTINGS as LOSS_SETTINGS
from postag.training.losses import TaggingLoss



def _as_random_state(state) -> tuple:
    """random.getstate() comes back from a checkpoint with lists where tuples were."""
    version, internal, gauss = state
    return (version, tuple(internal), gauss)


class TaggerModule(L.LightningModule):
    """Trains and evaluates a ``TaggingNetwork`` (``net``) with its ``loss``, AdamW and a warm-up,
    then cosine (or constant) learning-rate schedule.

    The hyperparameters are the plain settings of the network, the loss and the optimizer, one
    flat dict as the ``model`` config group has them (postag.training.build.tagger_module), so
    that a checkpoint loads with ``torch.load(weights_only=True)`` and rebuilds the network alone.
    """

    def __init__(
        self,
        net: TaggingNetwork,
        loss: TaggingLoss | None = None,
        lr: float = 0.005,
        weight_decay: float = 0.01,
        betas: tuple[float, float] = (0.9, 0.98),
        eps: float = 1e-8,
        warmup_steps: int = 200,
        lr_schedule: str = "cosine",
        compile: bool = False,
        teacher: str | None = None,
    ):
        super().__init__()
        if lr_schedule not in ("cosine", "constant"):
            raise ValueError(f"model.lr_schedule must be 'cosine' or 'constant', got {lr_schedule!r}")
        loss = TaggingLoss() if loss is None else loss
        loss.column_weights(net.settings["tag_columns"])  # a list of weights, one per column: fails here, not in training
        own = {
            "lr": lr, "weight_decay": weight_decay, "betas": tuple(float(b) for b in betas), "eps": eps,
            "warmup_steps": warmup_steps, "lr_schedule": lr_schedule, "compile": compile, "teacher": teacher,
        }
        self.save_hyperparameters({**net.settings, **loss.settings, **own})
        self.net = net
        self.loss = loss
        self.tag_names = net.tag_names
        # The vocabularies the network reads and writes; saved with every checkpoint (on_save_checkpoint),
        # set by whoever builds the module from data (postag.training.build.build_model) or loads it.
        self.vocab = None
        # model.teacher: a trained network whose probabilities the loss also learns from
        # (attach_teacher). Held in a tuple so that its weights never join this module's parameters
        # or checkpoints; only its path is a hyperparameter.
        self._teacher: tuple[TaggingNetwork, ...] = ()
        self.register_load_state_dict_pre_hook(_network_under_net)
        # Labels run one past the head's tags: that last class is every gold tag the training data
        # never had (Vocabularies.unseen_tag_id), never predicted, so always scored as wrong.
        num_tags = len(self.tag_names) + 1
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
        # Tags of spans (B-NP, I-NP, O: chunks, entities) are also scored as spans, as conlleval does:
        # the tags themselves, or the span column of a joint tag (CoNLL-2000's POS and chunks).
        span_column = span_column_names(self.tag_names, net.settings["tag_columns"])
        self.test_spans = SpanF1(span_column, IGNORE_INDEX) if span_column else None
        # stage -> the last epoch's per-tag rows and confusion matrix (rows: gold, columns: predicted)
        self.per_tag: dict[str, list[dict]] = {}
        self.confusion: dict[str, torch.Tensor] = {}

    @classmethod
    def around(cls, net: TaggingNetwork, **settings) -> TaggerModule:
        """A module around a built network, from the flat settings of its loss and its own; the
        network's own settings, where given (a checkpoint's), are those it was built with."""
        settings = {k: v for k, v in settings.items() if k not in NETWORK_SETTINGS}
        loss = TaggingLoss(**{k: settings.pop(k) for k in LOSS_SETTINGS if k in settings})
        return cls(net, loss, **settings)

    @classmethod
    def load_from_checkpoint(cls, checkpoint_path, map_location=None, **kwargs) -> TaggerModule:
        """The module a checkpoint of train.py holds, with its vocabularies (``vocab``), in eval
        mode: its network is rebuilt from the settings (postag.training.checkpoint_file)."""
        net, vocab, settings = load_network(checkpoint_path, map_location or "cpu")
        model = cls.around(net, **settings)
        model.vocab = vocab
        return model.eval()

    def attach_teacher(self, teacher: TaggerModule | TaggingNetwork) -> None:
        """Train on the teacher's tag probabilities as well as the gold tags (``distill_weight``)."""
        net = teacher.net if isinstance(teacher, TaggerModule) else teacher
        net.eval().requires_grad_(False)
        self._teacher = (net,)

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
            self.net.compile_encoders()
            self._compiled = True

    def forward(self, batch: Batch) -> torch.Tensor:
        return self.net(batch)  # (B, S, T)

    @property
    def vocab(self) -> Vocabularies | None:
        return self._vocab

    @vocab.setter
    def vocab(self, vocab: Vocabularies | None) -> None:
        self._vocab = vocab
        # Evaluation scores the tags that tagging gives: spans kept opening as in training, where they did
        self._span_decoder = None if vocab is None else span_decoder(
            vocab.tags.itos, vocab.conllu_column, vocab.spans_open_with_b
        )

    def best_tags(self, scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The predicted tags (B, S) of tag scores (B, S, T): token by token while training (train/acc),
        as tagging decodes them otherwise."""
        return best_tags(scores, mask, None if self.training else self._span_decoder)

    def model_step(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """(the loss, the predicted tags (B, S)) of a batch."""
        teacher = self._teacher[0] if self._teacher else None
        loss, scores = self.loss(self.net, batch, self.training, teacher)
        return loss, self.best_tags(scores, batch.mask)

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
        if self.test_spans is not None:
            self.test_spans.update(preds, batch.labels)
        size = len(batch.tokens)
        self.log("test/loss", loss, on_epoch=True, batch_size=size)
        self.log("test/acc", self.test_acc, on_epoch=True, batch_size=size)
        self.log("test/acc_oov", self.test_acc_oov, on_epoch=True, batch_size=size)
        self.log("test/acc_known", self.test_acc_known, on_epoch=True, batch_size=size)

    def _log_per_tag(self, stage: str, confusion_metric: MulticlassConfusionMatrix) -> None:
        """Per-tag accuracy into the logs; the rows and the confusion matrix are kept in
        ``per_tag[stage]`` and ``confusion[stage]`` for the figure callbacks and the reports
        (postag.analysis.report.per_tag_of_test)."""
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
        if self.test_spans is not None:
            scores = self.test_spans.compute()  # synced across processes: the same on every one
            self.test_spans.reset()
            self.log_dict({f"test/span_{name}": value for name, value in scores.items()}, sync_dist=True)

    def configure_optimizers(self):
        hp = self.hparams
        # Decay weight matrices and embeddings only, not biases or layer-norm gains.
        decay = [p for p in self.parameters() if p.dim() >= 2]
        no_decay = [p for p in self.parameters() if p.dim() < 2]
        # The fused update is one kernel for all parameters where the default makes a dozen passes
        # over every state tensor (docs/benchmarks.md). Not with 16-mixed or bf16-mixed: Lightning's
        # mixed-precision plugin refuses to clip the gradients of a fused optimizer.
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


def _network_under_net(module, state_dict: Mapping, prefix: str, *args) -> None:
    """A checkpoint's parameters of the network's parts, found at the module's top level in
    checkpoints of an earlier layout, moved under ``net.``; a load_state_dict pre-hook, so that
    loading, resuming and the weight average's copy of the module all read them."""
    for key in [k for k in state_dict if k.startswith(prefix) and k[len(prefix):].startswith(NETWORK_PARTS)]:
        state_dict[f"{prefix}{NET}{key[len(prefix):]}"] = state_dict.pop(key)
