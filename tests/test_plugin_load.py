"""The plugin loads as QGIS and qgis_process load it, cheaply, and its algorithms follow the
house rules (CAPS parameters, help text, one of the four groups, clear missing-package
messages)."""
from __future__ import annotations

import configparser
import subprocess
import sys
import textwrap

import pytest
from helpers import QGIS_PLUGINS, REPO

GROUP_NAMES = {"Pretraining", "Fine-tuning", "Inference", "Evaluation", "Tools"}


def test_metadata_declares_a_processing_provider():
    meta = configparser.ConfigParser()
    meta.read(REPO / "metadata.txt", encoding="utf-8")
    general = meta["general"]
    assert general["name"] == "rsseg"
    assert general["qgisMinimumVersion"] == "3.22"
    assert general["hasProcessingProvider"] == "yes"  # else qgis_process ignores the plugin
    assert general["category"] == "Raster"
    for key in ("description", "about", "version", "author", "email", "repository", "tracker", "tags"):
        assert general[key].strip(), key
    assert (REPO / general["icon"]).is_file()


def test_icon_is_a_64px_png():
    data = (REPO / "icon.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(data[16:20], "big") == 64 and int.from_bytes(data[20:24], "big") == 64


def test_class_factory_without_iface_registers_provider(qgis_app, rsseg_provider):
    from qgis.core import QgsApplication

    assert rsseg_provider.id() == "rsseg"
    assert rsseg_provider.name() == "rsseg"
    assert not rsseg_provider.icon().isNull()
    assert QgsApplication.processingRegistry().providerById("rsseg") is rsseg_provider


def test_every_listed_algorithm_loads(rsseg_provider):
    """All algorithms import with the dependencies installed: a module that fails to import
    is skipped at run time (so QGIS survives), which must never hide a bug here."""
    from plugin.provider import ALGORITHMS

    assert rsseg_provider.skipped == []
    names = sorted(a.name() for a in rsseg_provider.algorithms())
    assert len(names) == len(ALGORITHMS) == 10, names


def test_init_processing_twice_keeps_one_provider_and_unload_removes_it(qgis_app):
    from helpers import load_rsseg_package
    from qgis.core import QgsApplication

    registry = QgsApplication.processingRegistry()
    plugin = qgis_app.rsseg_plugin
    plugin.initProcessing()
    assert [p.id() for p in registry.providers()].count("rsseg") == 1

    # a second plugin instance (QGIS reloading the plugin) after unloading the first
    plugin.unload()
    assert registry.providerById("rsseg") is None
    plugin.initGui()  # what QGIS Desktop calls; registers again
    assert registry.providerById("rsseg") is not None
    other = load_rsseg_package().classFactory(None)
    other.unload()  # unloading a plugin that never registered is harmless
    assert registry.providerById("rsseg") is not None


def test_loading_the_plugin_does_not_import_torch():
    """Loading must stay cheap and work without torch; torch is imported only when a
    training algorithm runs."""
    code = textwrap.dedent(f"""
        import importlib.util, sys
        sys.path.append({QGIS_PLUGINS!r})
        from qgis.core import QgsApplication
        app = QgsApplication([], False)
        app.initQgis()
        from processing.core.Processing import Processing
        Processing.initialize()
        spec = importlib.util.spec_from_file_location(
            "rsseg", {str(REPO / '__init__.py')!r}, submodule_search_locations=[{str(REPO)!r}])
        rsseg = importlib.util.module_from_spec(spec)
        sys.modules["rsseg"] = rsseg
        spec.loader.exec_module(rsseg)
        plugin = rsseg.classFactory(None)
        plugin.initProcessing()
        provider = QgsApplication.processingRegistry().providerById("rsseg")
        assert provider is not None
        for alg in provider.algorithms():  # building forms and help must not need torch either
            alg.parameterDefinitions(); alg.shortHelpString(); alg.displayName()
        print("ALGORITHMS", len(provider.algorithms()))
        print("TORCH", "torch" in sys.modules)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "TORCH False" in result.stdout, result.stdout


def test_class_factory_puts_the_plugin_folder_and_venv_on_the_path(tmp_path, monkeypatch):
    from helpers import load_rsseg_package

    rsseg = load_rsseg_package()
    venv_site = rsseg.venv_site_packages(tmp_path)
    (venv_site / "sympy").mkdir(parents=True)
    (venv_site / "sympy" / "__init__.py").write_text("WHERE = 'venv'\n")
    monkeypatch.setattr(sys, "path", ["/usr/lib/python3/dist-packages"])
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    rsseg.setup_paths(tmp_path)
    rsseg.setup_paths(tmp_path)  # idempotent
    assert sys.path == [str(tmp_path), "/usr/lib/python3/dist-packages", str(venv_site)]
    finders = [f for f in sys.meta_path if getattr(f, "rsseg_venv_first", False)]
    assert len(finders) == 1 and finders[0].names == {"sympy"}
    spec = finders[0].find_spec("sympy")
    assert spec is not None and spec.origin == str(venv_site / "sympy" / "__init__.py")
    assert finders[0].find_spec("numpy") is None  # everything else: the normal search


def test_a_broken_algorithm_module_is_skipped_not_fatal(qgis_app):
    from plugin.provider import load_algorithm_classes

    classes, errors = load_algorithm_classes((("no_such_module", "Nothing"), ("base", "RssegAlgorithm")))
    assert [c.__name__ for c in classes] == ["RssegAlgorithm"]
    assert len(errors) == 1 and errors[0].startswith("no_such_module.Nothing")


def loaded_algorithms(provider):
    algorithms = provider.algorithms()
    if not algorithms:
        pytest.skip(f"no rsseg algorithm could be loaded yet; skipped modules: {provider.skipped}")
    return algorithms


def test_every_algorithm_follows_the_conventions(rsseg_provider):
    for alg in loaded_algorithms(rsseg_provider):
        label = alg.id()
        assert alg.id() == f"rsseg:{alg.name()}"
        assert alg.name() and alg.name() == alg.name().lower(), label
        assert alg.displayName().strip(), label
        assert alg.shortHelpString().strip(), f"{label}: empty shortHelpString"
        assert alg.group() in GROUP_NAMES, f"{label}: group {alg.group()!r}"
        assert alg.groupId() in {"pretraining", "finetuning", "inference", "evaluation", "tools"}, label
        names = [p.name() for p in alg.parameterDefinitions()]
        assert names, f"{label}: no parameters"
        for name in names:
            assert name == name.upper(), f"{label}: parameter {name} is not in capitals"
        for out in alg.outputDefinitions():
            assert out.name() == out.name().upper(), f"{label}: output {out.name()} is not in capitals"


def test_missing_dependency_is_explained_not_a_crash(rsseg_provider, monkeypatch):
    """With torch and onnxruntime uninstallable, every algorithm that needs them refuses to
    run with an install hint (checkParameterValues is what the dialog and qgis_process ask
    before running) instead of failing on an import."""
    import importlib.util

    from qgis.core import QgsProcessingContext, QgsProcessingException

    hidden = {"torch", "onnxruntime"}
    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        if name.split(".")[0] in hidden:
            return None
        return real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    context = QgsProcessingContext()
    checked = 0
    for alg in loaded_algorithms(rsseg_provider):
        needed = hidden.intersection(alg.requires)
        if not needed:
            continue
        checked += 1
        ok, message = alg.checkParameterValues({}, context)
        assert not ok, alg.id()
        assert "make setup" in message and "pip install" in message, message
        for module in needed:
            assert module in message, f"{alg.id()}: {message}"
        with pytest.raises(QgsProcessingException, match="make setup"):
            alg.check_dependencies()
    if not checked:
        pytest.skip("no loaded algorithm needs torch or onnxruntime yet")


def test_missing_message_names_the_pip_spec():
    from plugin.dependencies import missing_message

    message = missing_message(["torch", "onnxruntime"])
    assert "torch==2.13.0" in message and "onnxruntime" in message



@pytest.mark.skipif(not (REPO / ".venv").is_dir(), reason="no .venv: run make setup")
def test_qgis_python_finds_venv_torch_and_keeps_system_numpy():
    """In QGIS's own interpreter (/usr/bin/python3, not the venv) the plugin makes the venv's
    torch importable while numpy and GDAL stay the system's. Debian 12's sympy is too old
    for torch, so the venv's must be the one torch gets."""
    code = textwrap.dedent(f"""
        import importlib.util, sys
        spec = importlib.util.spec_from_file_location(
            "rsseg", {str(REPO / '__init__.py')!r}, submodule_search_locations=[{str(REPO)!r}])
        rsseg = importlib.util.module_from_spec(spec)
        sys.modules["rsseg"] = rsseg
        spec.loader.exec_module(rsseg)
        rsseg.setup_paths()
        import numpy, torch, onnxruntime, sympy
        from osgeo import gdal
        x = torch.ones(2, 3) @ torch.ones(3, 1)  # torch works, numpy interop too
        assert x.numpy().sum() == 6
        print("NUMPY", numpy.__file__)
        print("TORCH", torch.__file__)
        print("SYMPY", sympy.__file__)
    """)
    env = {k: v for k, v in __import__("os").environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    result = subprocess.run(["/usr/bin/python3", "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines())
    venv = str(REPO / ".venv")
    assert lines["NUMPY"].startswith("/usr/lib/python3/"), lines
    assert lines["TORCH"].startswith(venv) and lines["SYMPY"].startswith(venv), lines
