"""Module paths of earlier versions: user code, ``python -m`` and the ``_target_``s saved in the
configs of earlier runs still reach the modules in their new homes."""

import importlib
import subprocess
import sys
from pathlib import Path

import pytest
from hydra.utils import instantiate

from postag.moved import MOVED, RENAMED
from postag.training.module import TaggerModule

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("old, new", sorted(MOVED.items()))
def test_an_old_module_path_imports_its_new_home(old, new):
    home = importlib.import_module(new)
    moved = importlib.import_module(old)
    if old in RENAMED:
        assert moved is not home and moved.__name__ == old
    else:
        assert moved is home
    public = [name for name in vars(home) if not name.startswith("_") and name not in RENAMED.get(old, {})]
    assert public and all(getattr(moved, name) is getattr(home, name) for name in public)
    assert home.__spec__.name == new  # the import under the old name leaves the new home's own spec


def test_user_code_and_saved_callback_targets_of_earlier_versions():
    from postag.app.tagger import Tagger
    from postag.tagger import Tagger as OldTagger
    from postag.training.averaging import EMAWeights

    assert OldTagger is Tagger
    callback = instantiate({"_target_": "postag.averaging.EMAWeights", "decay": 0.9})
    assert type(callback) is EMAWeights


def test_a_model_config_saved_by_an_earlier_run_builds_the_module_from_its_flat_settings():
    saved = {
        "_target_": "postag.module.TaggerModule", "vocab_size": 10, "tag_names": ["DT", "NN"],
        "hidden_n": 8, "n": 1, "h": 2, "positional": True, "lr": 0.01, "label_smoothing": 0.1,
    }
    model = instantiate(saved)
    assert isinstance(model, TaggerModule)
    assert model.net.encoder.position_embedding is not None and len(model.net.encoder.blocks) == 1
    assert (model.hparams.lr, model.loss.label_smoothing, model.tag_names) == (0.01, 0.1, ["DT", "NN"])


def test_python_m_with_an_old_module_path_runs_the_new_module(tmp_path):
    old = subprocess.run([sys.executable, "-m", "postag.sweep"], cwd=ROOT, capture_output=True, text=True)
    new = subprocess.run([sys.executable, "-m", "postag.analysis.sweep"], cwd=ROOT, capture_output=True, text=True)
    assert old.returncode == new.returncode == 1
    assert old.stderr == new.stderr == "usage: python -m postag.analysis.sweep SWEEP_DIR\n"
