"""TensorBoard views of a run, each a callback switched on or off in ``conf/callbacks``.

``TagFigures``: per-tag accuracy and the confusion matrix; ``AttentionMaps``: every block's and
head's attention on a few validation sentences; ``AttentionByOffset``: the mean attention by
relative offset over the validation set; ``PositionSimilarity``: how alike the learned position
embeddings are; ``EmbeddingProjector``: the word embeddings in TensorBoard's Projector.
The attention views show the first tagger of an ensemble.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import torch
from lightning import Callback, LightningModule, Trainer

from postag.analysis.attention import OffsetProfile, position_similarity
from postag.data import collate
from postag.data.datamodule import model_window
from postag.analysis.figures import attention_figure, confusion_figure, offset_figure, per_tag_figure, similarity_figure
from postag.analysis.report import UNSEEN_TAGS

STAGE_NAMES = {"val": "validation", "test": "test"}


def tensorboard(trainer: Trainer):
    """The SummaryWriter of the run's TensorBoard logger on the main process, else None."""
    from lightning.pytorch.loggers import TensorBoardLogger

    if not trainer.is_global_zero:
        return None
    return next((lg.experiment for lg in trainer.loggers if isinstance(lg, TensorBoardLogger)), None)


def _add_figure(trainer: Trainer, tag: str, figure) -> None:
    tensorboard(trainer).add_figure(tag, figure, global_step=trainer.global_step, close=True)


class ValidationView(Callback):
    """A view drawn after the validation of every ``every_n_epochs``-th epoch and of the last one,
    into TensorBoard (nothing without a TensorBoard logger, and nothing for the sanity check).
    Drawing a figure takes a good part of a second, which at every validation would be a large
    share of a small treebank's training time."""

    def __init__(self, every_n_epochs: int = 1):
        if every_n_epochs < 1:
            raise ValueError(f"every_n_epochs must be at least 1, got {every_n_epochs}")
        self.every_n_epochs = every_n_epochs

    def due(self, trainer: Trainer) -> bool:
        if trainer.sanity_checking or tensorboard(trainer) is None:
            return False
        epoch = trainer.current_epoch + 1
        last = trainer.max_epochs is not None and epoch >= trainer.max_epochs > 0
        return epoch % self.every_n_epochs == 0 or last


class TagFigures(ValidationView):
    """Per-tag accuracy as a bar chart (the ``chart_tags`` most frequent tags, by support) and the
    confusion matrix of the ``top`` tags most often confused, after validation (see ValidationView)
    and after testing."""

    def __init__(self, top: int = 20, chart_tags: int = 60, every_n_epochs: int = 1):
        super().__init__(every_n_epochs)
        if top < 1 or chart_tags < 1:
            raise ValueError(f"top and chart_tags must be at least 1, got {top} and {chart_tags}")
        self.top = top  # tags shown in the confusion matrix
        self.chart_tags = chart_tags  # tags shown in the bar chart

    def _draw(self, trainer: Trainer, module: LightningModule, stage: str) -> None:
        if tensorboard(trainer) is None or stage not in module.confusion:
            return
        name, step = STAGE_NAMES[stage], trainer.global_step
        rows = [r for r in module.per_tag[stage] if r["tag"] != UNSEEN_TAGS]
        chart = per_tag_figure(rows, f"{name} accuracy per tag (by support)", self.chart_tags)
        _add_figure(trainer, f"{stage}/acc_per_tag_chart", chart)
        title = f"{name} confusions (row-normalised), step {step}"
        figure = confusion_figure(module.confusion[stage], module.label_names, title, self.top)
        _add_figure(trainer, f"{stage}/confusion_matrix", figure)

    def on_validation_end(self, trainer: Trainer, module: LightningModule) -> None:
        if self.due(trainer):
            self._draw(trainer, module, "val")

    def on_test_end(self, trainer: Trainer, module: LightningModule) -> None:
        self._draw(trainer, module, "test")


class AttentionMaps(ValidationView):
    """The attention maps of every block and head for the same few validation sentences: words on
    both axes, each row with its gold and predicted tag (``word GOLD>PRED`` where they differ)."""

    def __init__(self, sentences: int = 2, min_words: int = 6, max_words: int = 16, every_n_epochs: int = 1):
        super().__init__(every_n_epochs)
        self.sentences, self.min_words, self.max_words = sentences, min_words, max_words

    def chosen(self, trainer: Trainer) -> list[int]:
        """The first validation sentences of min_words to max_words words, and no longer than the
        model's positions (a longer one runs in windows, without one map): the same at every validation."""
        val = trainer.datamodule.sentences.get("val", [])
        window = model_window(trainer)
        longest = self.max_words if window is None else min(self.max_words, window)
        ids = [i for i, (words, _) in enumerate(val) if self.min_words <= len(words) <= longest]
        return ids[: self.sentences]

    @torch.no_grad()
    def on_validation_end(self, trainer: Trainer, module: LightningModule) -> None:
        if not self.due(trainer):
            return
        datamodule = trainer.datamodule
        for k, i in enumerate(self.chosen(trainer)):
            words, gold = datamodule.sentences["val"][i]
            batch = collate([datamodule.val_set[i]]).to(module.device)
            scores, weights = module.net.forward_with_attention(batch)
            predicted = [module.tag_names[t] for t in module.best_tags(scores, batch.mask)[0].tolist()]
            rows = [f"{w} {g}" if g == p else f"{w} {g}>{p}" for w, g, p in zip(words, gold, predicted)]
            title = f"validation sentence {i + 1}, step {trainer.global_step} (rows: word, gold, >predicted if wrong)"
            maps = torch.stack([w[0] for w in weights])  # (n, h, S, S)
            _add_figure(trainer, f"attention/sentence_{k + 1}", attention_figure(rows, words, maps, title))


class AttentionByOffset(ValidationView):
    """One heatmap of every block's and head's mean attention to the word at each relative offset
    (-max_offset ... +max_offset) over the validation set: which heads look at the previous word,
    the next one, themselves. The weights take one more forward pass per validation batch, in
    the epochs the view is drawn only."""

    def __init__(self, max_offset: int = 5, every_n_epochs: int = 1):
        super().__init__(every_n_epochs)
        self.profile = OffsetProfile(max_offset)

    def on_validation_epoch_start(self, trainer: Trainer, module: LightningModule) -> None:
        self.profile.reset()

    @torch.no_grad()
    def on_validation_batch_end(self, trainer, module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        if not self.due(trainer):
            return
        encoder = module.net.encoder
        if encoder.window is not None and batch.tokens.size(1) > encoder.window:
            return  # run in windows by the model; left out of the profile
        _, weights = module.net.forward_with_attention(batch)
        self.profile.update(weights, batch.mask)

    def on_validation_end(self, trainer: Trainer, module: LightningModule) -> None:
        if not self.due(trainer) or self.profile.sums is None:
            return
        title = f"mean attention by offset over the validation set, step {trainer.global_step}"
        _add_figure(trainer, "attention/by_offset", offset_figure(self.profile.mean(), self.profile.offsets, title))


class PositionSimilarity(ValidationView):
    """For a model with learned positions, the cosine similarity of the first ``positions``
    position embeddings (nothing for a model without them)."""

    def __init__(self, positions: int = 50, every_n_epochs: int = 1):
        super().__init__(every_n_epochs)
        self.positions = positions

    def on_validation_end(self, trainer: Trainer, module: LightningModule) -> None:
        table = module.net.encoder.position_embedding
        if table is None or not self.due(trainer):
            return
        similarity = position_similarity(table.weight[: self.positions])
        title = f"cosine similarity of the position embeddings, step {trainer.global_step}"
        _add_figure(trainer, "positions/similarity", similarity_figure(similarity, title))


class EmbeddingProjector(Callback):
    """At the end of training, the embeddings of the ``words`` most frequent training words in
    TensorBoard's Projector, with the columns word, most frequent training tag and frequency,
    so that the points can be coloured by tag."""

    def __init__(self, words: int = 2000):
        self.words = words

    def on_fit_end(self, trainer: Trainer, module: LightningModule) -> None:
        writer = tensorboard(trainer)
        sentences = trainer.datamodule.sentences.get("train")
        if writer is None or not sentences:
            return
        frequency: Counter = Counter()
        tags: dict[str, Counter] = defaultdict(Counter)
        for words, word_tags in sentences:
            frequency.update(words)
            for word, tag in zip(words, word_tags):
                tags[word][tag] += 1
        vocab = module.vocab.words
        chosen = [w for w, _ in frequency.most_common() if w in vocab][: self.words]
        ids = torch.tensor(vocab.encode(chosen), device=module.device)
        vectors = module.net.encoder.token_embedding(ids).detach().float().cpu()  # (words, H)
        metadata = [[w, tags[w].most_common(1)[0][0], str(frequency[w])] for w in chosen]
        writer.add_embedding(
            vectors, metadata=metadata, metadata_header=["word", "tag", "frequency"], tag="word_embeddings",
            global_step=trainer.global_step,
        )
