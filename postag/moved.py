"""Import paths of modules that moved into the package's rooms, kept working: user code
(``from postag.tagger import Tagger``), ``python -m postag.sweep`` and the ``_target_``s saved in
the ``.hydra/config.yaml`` of earlier runs resolve to the module's new home."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import types

MOVED = {
    "postag.model": "postag.network.model",
    "postag.word_features": "postag.network.word_features",
    "postag.windows": "postag.network.windows",
    "postag.module": "postag.training.module",
    "postag.adversarial": "postag.training.losses",
    "postag.averaging": "postag.training.averaging",
    "postag.checkpoint": "postag.training.checkpoint",
    "postag.resume": "postag.training.resume",
    "postag.interrupt": "postag.training.interrupt",
    "postag.own_teacher": "postag.training.self_distill",
    "postag.config": "postag.training.config",
    "postag.runs": "postag.training.build",
    "postag.report": "postag.analysis.report",
    "postag.figures": "postag.analysis.figures",
    "postag.callbacks": "postag.analysis.views",
    "postag.attention": "postag.analysis.attention",
    "postag.error_analysis": "postag.analysis.error_analysis",
    "postag.sweep": "postag.analysis.sweep",
    "postag.tagger": "postag.app.tagger",
    "postag.cli": "postag.app.cli",
    "postag.tokenizer": "postag.app.tokenizer",
    "postag.console": "postag.app.console",
    "postag.cpu": "postag.app.cpu",
    "postag.data.errors": "postag.errors",
}
# Names that mean another thing in the new home: a model config saved by an earlier run builds
# postag.module.TaggerModule from the flat settings, which postag.training.build.tagger_module takes.
RENAMED = {"postag.module": {"TaggerModule": ("postag.training.build", "tagger_module")}}


class _MovedModule(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports an old name as the very module object of its new home."""

    def __init__(self):
        self._own_specs: dict = {}

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        home = importlib.import_module(MOVED[spec.name])
        if spec.name in RENAMED:
            return _with_renamed(spec.name, home, RENAMED[spec.name])
        self._own_specs[home.__name__] = home.__spec__  # which the import machinery overwrites
        return home

    def exec_module(self, module) -> None:
        # The new home ran when it was imported; it keeps its own name and spec.
        if module.__name__ in self._own_specs:
            module.__spec__ = self._own_specs[module.__name__]

    def get_code(self, fullname):
        """For ``python -m OLD_NAME``: the new home's code, run as __main__."""
        new = MOVED[fullname]
        return importlib.util.find_spec(new).loader.get_code(new)


def _with_renamed(name: str, home: types.ModuleType, renamed: dict) -> types.ModuleType:
    """A module of its own that reads every name from ``home`` but those ``renamed``."""
    module = types.ModuleType(name, home.__doc__)
    for old, (where, new) in renamed.items():
        setattr(module, old, getattr(importlib.import_module(where), new))
    module.__getattr__ = lambda attribute: getattr(home, attribute)
    return module


def install() -> None:
    if not any(isinstance(finder, _MovedModule) for finder in sys.meta_path):
        sys.meta_path.append(_MovedModule())
