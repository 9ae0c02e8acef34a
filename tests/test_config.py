"""Composition of the Hydra configs, and that each documented override reaches the object it configures."""

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ModelCheckpoint

from postag.training.module import TaggerModule
from postag.training import build as runs
from postag.training.build import build_trainer

ROOT = Path(__file__).resolve().parent.parent
from tiny_corpus import TINY_DIR as FIXTURES


def compose_config(name, overrides, tmp_path):
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
            return compose(
                config_name=name,
                overrides=[f"paths.output_dir={tmp_path}", f"data.data_dir={FIXTURES}", *overrides],
            )
    finally:
        GlobalHydra.instance().clear()


def build_model(cfg) -> TaggerModule:
    dm = instantiate(cfg.data)
    dm.setup("fit")
    return runs.build_model(cfg.model, dm.vocab)


def test_default_train_config_builds_the_exercise_model(tmp_path):
    cfg = compose_config("train", [], tmp_path)
    model = build_model(cfg)
    assert (model.hparams.hidden_n, model.hparams.n, model.hparams.h) == (128, 3, 3)
    assert model.net.encoder.position_embedding is None
    assert len(model.net.encoder.blocks) == 3
    assert cfg.seed is not None and cfg.trainer.accelerator == "cpu"


def test_model_char_adds_word_features(tmp_path):
    model = build_model(compose_config("train", ["model=char"], tmp_path))
    features = model.net.word_features
    assert features.chars is not None and features.chars.embedding.embedding_dim == 32
    assert features.shape is not None and features.suffix is not None
    assert model.net.encoder.position_embedding is not None
    plain = build_model(compose_config("train", ["model=pos"], tmp_path)).net.word_features
    assert plain.chars is None and plain.shape is None and plain.suffix is None


def test_ablation_steps_add_one_thing_each(tmp_path):
    def parts(name):
        model = build_model(compose_config("train", [f"model={name}"], tmp_path))
        features = model.net.word_features
        return (
            model.net.encoder.position_embedding is not None,
            features.chars is not None,
            features.shape is not None and features.suffix is not None,
        )

    assert parts("base") == (False, False, False)
    assert parts("pos") == (True, False, False)
    assert parts("pos_char") == (True, True, False)
    assert parts("char") == (True, True, True)
    assert parts("best") == (True, True, True)


def test_best_recipe_is_one_char_tagger_with_an_offset_bias_and_convolutions_trained_longer_scored_at_the_last_epoch(
    tmp_path,
):
    best = compose_config("train", ["model=best"], tmp_path)
    char = compose_config("train", ["model=char"], tmp_path)
    assert (best.model.max_offset, best.model.conv_kernel) == (4, 3)
    assert (char.model.max_offset, char.model.conv_kernel) == (0, 0)
    assert {**best.model, "max_offset": 0, "conv_kernel": 0} == {**char.model}
    assert best.data.val_fraction == 0.02 and char.data.val_fraction == 0.1
    assert best.data.unk_replace == 0.25 and char.data.unk_replace == 0.1
    assert best.data.unk_hide_spelling == 10 and char.data.unk_hide_spelling == 0
    assert best.trainer.max_epochs == 20 and char.trainer.max_epochs == 10
    assert best.min_steps == 2500 and char.min_steps is None
    assert best.test_checkpoint == "last" and char.test_checkpoint == "best"
    assert best.self_distill is True and best.model.teacher is None  # its own teacher, trained in the run
    assert best.callbacks.ema_weights.decay == 0.998 and "ema_weights" not in char.callbacks
    assert "char_n" not in best  # the model keys stay under model
    # command-line overrides still win over the recipe: the ensemble of three is one override away
    overridden = compose_config("train", ["model=best", "data.val_fraction=0.1", "model.ensemble=3"], tmp_path)
    assert overridden.data.val_fraction == 0.1 and overridden.model.ensemble == 3
    assert len(build_model(best).net.members()) == 1
    assert len(build_model(overridden).net.members()) == 3


def test_model_pos_adds_positional_embeddings(tmp_path):
    model = build_model(compose_config("train", ["model=pos"], tmp_path))
    assert model.net.encoder.position_embedding is not None
    assert model.net.encoder.position_embedding.num_embeddings == 256
    assert model.hparams.hidden_n == 128  # everything else from base


@pytest.mark.parametrize(
    "override, check",
    [
        ("model.h=4", lambda m: m.net.encoder.blocks[0].attention.h == 4),
        ("model.n=2", lambda m: len(m.net.encoder.blocks) == 2),
        ("model.hidden_n=256", lambda m: m.net.encoder.token_embedding.embedding_dim == 256),
        ("model.max_len=100", lambda m: m.net.encoder.max_len == 100),
        ("model.norm_first=false", lambda m: m.net.encoder.blocks[0].norm_first is False),
        (
            "model.char_kernels=[2,3,4,5]",
            lambda m: m.net.word_features.chars is None and m.hparams.char_kernels == (2, 3, 4, 5),
        ),
        ("model=char", lambda m: [c.kernel_size for c in m.net.word_features.chars.convs] == [(3,)]),
        ("model.conv_kernel=5", lambda m: all(b.convolution.conv.kernel_size == (5,) for b in m.net.encoder.blocks)),
        ("model.affix_features=true", lambda m: m.net.word_features.affix.num_embeddings == m.hparams.affix_vocab_size > 2),
        ("model.norm_features=true", lambda m: m.net.word_features.norm.num_embeddings == m.hparams.norm_vocab_size > 2),
    ],
)
def test_model_overrides_reach_the_encoder(tmp_path, override, check):
    assert check(build_model(compose_config("train", [override], tmp_path)))


def test_data_batch_size_override(tmp_path):
    cfg = compose_config("train", ["data.batch_size=16"], tmp_path)
    dm = instantiate(cfg.data)
    assert dm.batch_size == 16


@pytest.mark.parametrize(
    "override, attribute, expected",
    [
        ("trainer.max_epochs=3", "max_epochs", 3),
        ("trainer.accumulate_grad_batches=8", "accumulate_grad_batches", 8),
        ("trainer.accelerator=cpu", "num_devices", 1),
        ("trainer.devices=2", "num_devices", 2),
    ],
)
def test_trainer_overrides(tmp_path, override, attribute, expected):
    trainer = build_trainer(compose_config("train", [override], tmp_path))
    assert getattr(trainer, attribute) == expected


@pytest.mark.parametrize("trainer_group", ["default", "cpu", "gpu"])
def test_trainer_groups_compose(tmp_path, trainer_group):
    cfg = compose_config("train", [f"trainer={trainer_group}"], tmp_path)
    assert cfg.trainer.accelerator == ("gpu" if trainer_group == "gpu" else "cpu")


def test_gpu_accelerator_override_composes(tmp_path):
    # Building it needs a GPU; the composed value is what reaches the Trainer.
    assert compose_config("train", ["trainer.accelerator=gpu"], tmp_path).trainer.accelerator == "gpu"


def test_seed_zero_is_kept(tmp_path):
    assert compose_config("train", ["seed=0"], tmp_path).seed == 0


def test_checkpoint_callback_keeps_slashes_out_of_paths(tmp_path):
    trainer = build_trainer(compose_config("train", [], tmp_path))
    checkpoint = trainer.checkpoint_callback
    assert isinstance(checkpoint, ModelCheckpoint)
    assert checkpoint.monitor == "val/acc" and checkpoint.mode == "max"
    assert checkpoint.auto_insert_metric_name is False
    assert Path(checkpoint.dirpath) == tmp_path / "checkpoints"
    # last.ckpt: a callback of its own that saves every epoch (Lightning 2.6's save_last follows the best)
    (last,) = [c for c in trainer.checkpoint_callbacks if c is not checkpoint]
    assert last.monitor is None and last.filename == "last" and Path(last.dirpath) == Path(checkpoint.dirpath)
    assert trainer.logger.log_dir.startswith(str(tmp_path))


@pytest.mark.parametrize("debug", ["fast_dev_run", "limit"])
def test_debug_configs_compose(tmp_path, debug):
    cfg = compose_config("train", [f"debug={debug}"], tmp_path)
    build_trainer(cfg)


def test_experiment_config_overrides_model(tmp_path):
    cfg = compose_config("train", ["experiment=pos_h4"], tmp_path)
    assert cfg.model.positional is True and cfg.model.h == 4


def test_evaluate_config_requires_a_checkpoint(tmp_path):
    cfg = compose_config("evaluate", ["ckpt_path=some.ckpt", "data.test_file=x.txt"], tmp_path)
    assert cfg.ckpt_path == "some.ckpt" and cfg.data.test_file == "x.txt"
    assert "model" not in cfg  # sizes come from the checkpoint


def test_slurm_launcher_config_follows_the_trainer(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason="the optional 'slurm' extra is not installed")
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
            cfg = compose(
                config_name="train",
                overrides=["hydra/launcher=slurm", "trainer=gpu", "trainer.devices=4", "trainer.num_nodes=2"],
                return_hydra_config=True,
            )
    finally:
        GlobalHydra.instance().clear()
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher")
    # one task per device on every node, as Lightning's DDP under SLURM expects
    assert (launcher.tasks_per_node, launcher.gpus_per_node, launcher.nodes) == (4, 4, 2)


@pytest.mark.parametrize("group, node", [("model", "base"), ("data", "conll2000")])
def test_config_values_are_the_constructors_defaults(group, node, tmp_path):
    """A value the Python API and the command line both give must be the same value."""
    import inspect

    cfg = compose_config("train", [f"{group}={node}"], tmp_path)[group]
    target = instantiate({"_target_": "hydra.utils.get_object", "path": cfg._target_})
    parameters = inspect.signature(target).parameters
    differing = {
        key: (value, parameters[key].default)
        for key, value in cfg.items()
        if key in parameters and parameters[key].default is not inspect.Parameter.empty
        and key != "data_dir"  # composed from the test's overrides
        and (list(value) if hasattr(value, "__len__") and not isinstance(value, str) else value)
        != (list(parameters[key].default) if isinstance(parameters[key].default, tuple) else parameters[key].default)
    }
    assert differing == {}


@pytest.mark.parametrize("node, format, tag_column", [("conll2000", "conll2000", "xpos"), ("conllu", "conllu", "upos"), ("columns", "columns", "xpos")])
def test_data_groups_build_one_data_module_with_their_reader(node, format, tag_column, tmp_path):
    cfg = compose_config("train", [f"data={node}"], tmp_path)
    dm = instantiate(cfg.data)
    assert type(dm).__name__ == "TaggingDataModule" and dm.format == format == dm.reader.name
    assert dm.reader.conllu_column == tag_column


@pytest.mark.parametrize(
    "max_epochs, min_steps, batches, accumulate, expected",
    [(10, None, 100, 1, 10), (10, 2500, 274, 1, 10), (10, 2500, 108, 1, 24), (10, 2500, 108, 2, 47), (-1, 2500, 10, 1, -1)],
)
def test_min_steps_raises_the_epochs_of_short_corpora_only(max_epochs, min_steps, batches, accumulate, expected):
    assert runs.epochs_for(max_epochs, min_steps, batches, accumulate) == expected


def test_a_gpu_that_is_not_there_is_one_line_before_any_data(tmp_path, monkeypatch):
    import torch

    from postag.errors import ConfigError
    from postag.training.config import validate

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    cfg = compose_config("train", ["trainer.accelerator=gpu"], tmp_path)
    with pytest.raises(ConfigError, match="^trainer.accelerator=gpu: no GPU is visible to torch on this machine; use trainer.accelerator=cpu or auto$"):
        validate(cfg)
    validate(compose_config("train", ["trainer.accelerator=cpu", "trainer.devices=4"], tmp_path))  # CPU processes: fine
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    validate(compose_config("train", ["trainer.accelerator=gpu", "trainer.devices=2"], tmp_path))
    with pytest.raises(ConfigError, match="^trainer.devices=4: 2 GPUs are visible to torch on this machine; use trainer.devices=2 or fewer$"):
        validate(compose_config("train", ["trainer.accelerator=gpu", "trainer.devices=4"], tmp_path))
    with pytest.raises(ConfigError, match="trainer.devices=\\[0, 1, 2\\]: 2 GPUs"):
        validate(compose_config("train", ["trainer.accelerator=gpu", "trainer.devices=[0,1,2]"], tmp_path))


def test_a_fast_dev_run_of_a_self_distilled_recipe_trains_the_model_alone_or_stops_in_one_line(tmp_path):
    from postag.errors import ConfigError
    from postag.training.config import validate

    # debug=fast_dev_run switches the recipe's own teacher off: a fast dev run saves no checkpoint to hand on
    quick = compose_config("train", ["model=best", "debug=fast_dev_run"], tmp_path)
    assert quick.self_distill is False and quick.trainer.fast_dev_run is True
    validate(quick)
    # asked for by hand, it stops before any data is read
    cfg = compose_config("train", ["model=best", "+trainer.fast_dev_run=true"], tmp_path)
    with pytest.raises(ConfigError, match="^self_distill=true with trainer.fast_dev_run=True: a fast dev run saves no checkpoint"):
        validate(cfg)
    validate(compose_config("train", ["model=best", "+trainer.fast_dev_run=true", "self_distill=false"], tmp_path))
