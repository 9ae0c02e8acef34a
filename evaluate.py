"""Score a checkpoint: `python evaluate.py ckpt_path=PATH [data.test_file=FILE]`."""

from __future__ import annotations

import hydra
from hydra.utils import instantiate
from omegaconf import DictConfig

from postag.checkpoint import load_tagger
from postag.runs import build_trainer, print_per_tag, scalar_metrics, write_reports


def evaluate(cfg: DictConfig) -> tuple[dict, list[dict]]:
    model, vocab = load_tagger(cfg.ckpt_path)
    datamodule = instantiate(cfg.data)
    datamodule.vocab = vocab  # the checkpoint's, never rebuilt from data
    datamodule.prepare_data()
    datamodule.setup("test")
    trainer = build_trainer(cfg)
    trainer.test(model, datamodule=datamodule, verbose=False)
    metrics = scalar_metrics(trainer)
    metrics["ckpt_path"] = str(cfg.ckpt_path)
    write_reports(cfg.paths.output_dir, metrics, model.test_per_tag)
    return metrics, model.test_per_tag


@hydra.main(version_base="1.3", config_path="conf", config_name="evaluate")
def main(cfg: DictConfig) -> float:
    metrics, per_tag = evaluate(cfg)
    print_per_tag(per_tag, title=f"per-tag accuracy, {cfg.data.test_file or 'CoNLL-2000 test split'}")
    print(f"test accuracy (micro, {sum(r['support'] for r in per_tag)} tokens): {metrics['test/acc']:.4f}")
    return metrics["test/acc"]


if __name__ == "__main__":
    main()
