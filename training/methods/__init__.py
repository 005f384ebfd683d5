"""Self-supervised pretraining methods, by name, imported lazily.

Each method has two modules: ``<name>_config.py`` with its config dataclass (extending
:class:`training.config.PretrainConfig`; no torch import, QGIS reads it at load time) and
``<name>.py`` defining ``CONFIG_CLASS`` and ``METHOD_CLASS`` (a
:class:`training.pretrain_loop.PretrainMethod`). The CLI and the Processing algorithms
build their parameters from the config's fields, so a new field is exposed everywhere.
"""
from __future__ import annotations

import importlib
from types import ModuleType

METHODS: dict[str, str] = {
    "grass": "training.methods.grass",
    "sdcluster": "training.methods.sdcluster",
    "diffusion": "training.methods.diffusion",
}


CONFIGS: dict[str, str] = {
    "grass": "training.methods.grass_config:GraSSConfig",
    "sdcluster": "training.methods.sdcluster_config:SDClusterConfig",
    "diffusion": "training.methods.diffusion_config:DiffusionConfig",
}


def config_class(name: str) -> type:
    """The config dataclass of method ``name``, imported without torch."""
    if name not in CONFIGS:
        raise ValueError(f"unknown pretraining method {name!r}; use one of {', '.join(CONFIGS)}")
    module_name, cls = CONFIGS[name].split(":")
    return getattr(importlib.import_module(module_name), cls)


def method_module(name: str) -> ModuleType:
    """The module implementing method ``name`` (has CONFIG_CLASS and METHOD_CLASS)."""
    if name not in METHODS:
        raise ValueError(f"unknown pretraining method {name!r}; use one of {', '.join(METHODS)}")
    return importlib.import_module(METHODS[name])


def pretrain(name: str, config, output, feedback=None, resume: bool = False):
    """Run method ``name`` with ``config`` (its CONFIG_CLASS) and save to ``output``.

    ``resume`` is off by default, as RESUME in the Processing forms and ``--resume`` on the
    CLI: an existing ``output`` is replaced unless the caller asks to continue it (a library
    call must not quietly extend an old checkpoint the forms would have started over).
    """
    from engine.safeguards import check_training_settings
    from training.pretrain_loop import run_pretraining

    check_training_settings(config)  # before any method-specific rule (GraSS blamed WARMUP_EPOCHS for EPOCHS 0)
    module = method_module(name)
    return run_pretraining(module.METHOD_CLASS, config, output, feedback=feedback, resume=resume)
