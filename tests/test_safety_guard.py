"""No output may overwrite an input or another output: every algorithm, every pairing.

The algorithm list is the provider's own (plugin/provider.py ALGORITHMS), so an algorithm
added later is tried here without editing this file; its inputs and outputs are read from
its parameter definitions.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
from helpers import make_onnx_model, write_geotiff

from engine.safeguards import check_outputs_distinct
from plugin.provider import ALGORITHMS

INPUT_KINDS = ("raster", "file", "multilayer", "layer", "vector", "source")


def _digest(path: Path) -> str:
    if path.is_dir():
        return ",".join(sorted(os.listdir(path)))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _input_value(definition, folder: Path):
    """A plausible existing file for an input parameter (its content is never read: the guard comes first)."""
    rng = np.random.default_rng(0)
    kind, name = definition.type(), definition.name()
    scene = folder / f"{name.lower()}.tif"
    if kind in ("raster", "layer", "multilayer"):
        write_geotiff(scene, (rng.random((3, 32, 32)) * 3).astype(np.uint8))
        return [str(scene)] if kind == "multilayer" else str(scene)
    if kind == "file":
        if definition.behavior() == definition.Folder:
            sub = folder / name.lower()
            sub.mkdir()
            write_geotiff(sub / "a.tif", (rng.random((3, 32, 32)) * 255).astype(np.uint8))
            return str(sub)
        if "onnx" in (definition.extension() or ""):
            return str(make_onnx_model(folder / f"{name.lower()}.onnx", np.eye(3)))
        path = folder / f"{name.lower()}.pt"
        path.write_bytes(b"precious checkpoint bytes")
        return str(path)
    return None


def _cases(alg, folder: Path):
    """(parameters, output name, input name or second output name) for every pairing of this algorithm."""
    base, inputs = {}, {}
    for definition in alg.parameterDefinitions():
        if definition.isDestination() or definition.type() not in INPUT_KINDS:
            continue
        value = _input_value(definition, folder)
        if value is not None:
            base[definition.name()] = value
            inputs[definition.name()] = value
    outputs = [d.name() for d in alg.parameterDefinitions() if d.isDestination()]
    for out in outputs:
        for other in outputs:
            base.setdefault(other, str(folder / f"{other.lower()}_out.dat"))
    for out in outputs:
        for name, value in inputs.items():
            yield {**base, out: value[0] if isinstance(value, list) else value}, out, name
        for second in outputs:
            if second > out:
                shared = str(folder / "shared_output.dat")
                yield {**base, out: shared, second: shared}, out, second


@pytest.mark.parametrize("module_name,class_name", ALGORITHMS)
def test_no_output_overwrites_an_input(rsseg_provider, tmp_path, module_name, class_name):
    import processing
    from qgis.core import QgsProcessingException

    found = [a for a in rsseg_provider.algorithms() if type(a).__name__ == class_name]
    assert found, f"{class_name} ({module_name}) is not registered: {rsseg_provider.skipped}"
    alg = found[0]
    tried = 0
    for parameters, out, other in _cases(alg, tmp_path):
        protected = parameters[out]
        before = {p: _digest(Path(p)) for p in _files(parameters, alg)}
        with pytest.raises(QgsProcessingException) as caught:
            processing.run(alg.id(), parameters)
        message = str(caught.value)
        assert out in message and other in message, f"{alg.id()} {out}->{other}: {message}"
        for path, digest in before.items():
            assert _digest(Path(path)) == digest, f"{alg.id()}: {out}={protected} changed {path}"
        tried += 1
    destinations = [d for d in alg.parameterDefinitions() if d.isDestination()]
    has_inputs = any(not d.isDestination() and d.type() in INPUT_KINDS for d in alg.parameterDefinitions())
    if destinations and (has_inputs or len(destinations) > 1):   # rsseg:check_environment reads no file
        assert tried, f"{alg.id()}: no pairing was tried"


def _files(parameters, alg) -> list[str]:
    names = {d.name() for d in alg.parameterDefinitions() if not d.isDestination()}
    found = []
    for name, value in parameters.items():
        for item in value if isinstance(value, list) else [value]:
            if name in names and isinstance(item, str) and os.path.exists(item):
                found.append(item)
    return found


def test_every_algorithm_of_the_provider_is_covered(rsseg_provider):
    registered = {type(alg).__name__ for alg in rsseg_provider.algorithms()}
    assert registered == {cls for _module, cls in ALGORITHMS}


@pytest.mark.parametrize("spelling", ["same", "relative", "symlink", "hardlink", "dotted"])
def test_paths_that_name_the_same_file(tmp_path, monkeypatch, spelling):
    image = tmp_path / "image.tif"
    image.write_bytes(b"pixels")
    monkeypatch.chdir(tmp_path)
    if spelling == "symlink":
        (tmp_path / "link.tif").symlink_to(image)
        output = str(tmp_path / "link.tif")
    elif spelling == "hardlink":
        os.link(image, tmp_path / "hard.tif")
        output = str(tmp_path / "hard.tif")
    else:
        output = {"same": str(image), "relative": "image.tif",
                  "dotted": str(tmp_path / "sub" / ".." / "image.tif")}[spelling]
    (tmp_path / "sub").mkdir(exist_ok=True)
    with pytest.raises(ValueError, match="OUTPUT: .* is the same file as INPUT"):
        check_outputs_distinct({"INPUT": str(image)}, {"OUTPUT": output})


def test_folders_outputs_and_clean_cases(tmp_path):
    folder = tmp_path / "scenes"
    folder.mkdir()
    (folder / "a.tif").write_bytes(b"a")
    with pytest.raises(ValueError, match=r"OUTPUT_CHECKPOINT: .* is the same file as INPUT_FOLDER \(a raster in"):
        check_outputs_distinct({"INPUT_FOLDER": str(folder)}, {"OUTPUT_CHECKPOINT": str(folder / "a.tif")})
    with pytest.raises(ValueError, match="OUTPUT: .* is a folder"):
        check_outputs_distinct({}, {"OUTPUT": str(folder)})
    with pytest.raises(ValueError, match="CONFIDENCE: .* is also OUTPUT"):
        check_outputs_distinct({}, {"OUTPUT": str(tmp_path / "x.tif"), "CONFIDENCE": str(tmp_path / "x.tif")})
    check_outputs_distinct({"INPUT": [str(folder / "a.tif")], "MODEL": None},
                           {"OUTPUT": str(tmp_path / "new.tif"), "CONFIDENCE": ""})


def test_gdal_side_cars_count_as_the_files_they_describe(tmp_path):
    """An output over an input's .aux.xml (its nodata, statistics, a PNG's georeferencing), or an
    output whose own .aux.xml would land on an input, is refused like the input itself."""
    image = tmp_path / "scene.png"
    image.write_bytes(b"png")
    (tmp_path / "scene.png.aux.xml").write_text("<PAMDataset/>")
    with pytest.raises(ValueError, match=r"^OUTPUT_TABLE: .*scene.png.aux.xml is GDAL's side-car of INPUT .*"
                                         r"choose another file name for OUTPUT_TABLE$"):
        check_outputs_distinct({"INPUT": str(image)}, {"OUTPUT_TABLE": str(tmp_path / "scene.png.aux.xml")})
    folder = tmp_path / "scenes"
    folder.mkdir()
    (folder / "a.tif").write_bytes(b"a")
    with pytest.raises(ValueError, match=r"side-car of INPUT_FOLDER \(a raster in"):
        check_outputs_distinct({"INPUT_FOLDER": str(folder)}, {"OUTPUT": str(folder / "a.tif.aux.xml")})
    with pytest.raises(ValueError, match=r"^OUTPUT: GDAL may write out.tif.aux.xml beside .*, and that file is "
                                         r"REFERENCE; "):
        check_outputs_distinct({"REFERENCE": str(tmp_path / "out.tif.aux.xml")}, {"OUTPUT": str(tmp_path / "out.tif")})
    # names that only look alike are fine
    check_outputs_distinct({"INPUT": str(image)}, {"OUTPUT": str(tmp_path / "scene.png.xml"),
                                                   "OUTPUT_TABLE": str(tmp_path / "scene.aux.xml")})


@pytest.mark.parametrize("argv", [
    ["export", "{ck}", "{ck}"],
    ["finetune", "--images", "{img}", "--labels", "{img}", "--output", "{img}"],
    ["finetune", "--images", "{img}", "--labels", "{lab}", "--pretrained", "{ck}", "--output", "{out}",
     "--export", "{out}"],
    ["pretrain", "grass", "--inputs", "{img}", "--output", "{img}"],
])
def test_cli_refuses_before_touching_anything(tmp_path, capsys, argv):
    from training.cli import EXIT_ERROR, main

    files = {"ck": tmp_path / "ck.pt", "img": tmp_path / "img.tif", "lab": tmp_path / "lab.tif"}
    for path in files.values():
        path.write_bytes(b"precious")
    names = {k: str(v) for k, v in files.items()} | {"out": str(tmp_path / "out.pt")}
    assert main([a.format(**names) for a in argv]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "the same file as" in err or "cannot share a file" in err
    assert all(p.read_bytes() == b"precious" for p in files.values())


def test_outputs_in_unwritable_places_are_refused_first(tmp_path, monkeypatch):
    from engine.safeguards import check_outputs_writable

    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(ValueError, match="OUTPUT: .*a_file is a file, not a folder"):
        check_outputs_writable({"OUTPUT": str(blocker / "sub" / "out.tif")})
    monkeypatch.setattr(os, "access", lambda path, mode: False)  # tests may run as root, who can write anywhere
    with pytest.raises(ValueError, match="OUTPUT_CHECKPOINT: cannot write in"):
        check_outputs_writable({"OUTPUT_CHECKPOINT": str(tmp_path / "new" / "g.pt")})


def test_qgis_process_output_onto_input_exits_non_zero(tmp_path):
    """The issue's first case as a user meets it: exit 0 and a destroyed image before; now an error, image kept."""
    import subprocess

    from helpers import REPO

    scene = write_geotiff(tmp_path / "scene.tif", (np.random.default_rng(0).random((4, 32, 32)) * 255).astype(np.uint8))
    model = make_onnx_model(tmp_path / "m.onnx", np.eye(4))
    before = _digest(scene)
    env = {k: v for k, v in os.environ.items() if k != "QGIS_CUSTOM_CONFIG_PATH"}
    result = subprocess.run([str(REPO / "scripts" / "qgis_process"), "run", "rsseg:segment", "--", f"INPUT={scene}",
                             f"MODEL={model}", f"OUTPUT={scene}"], capture_output=True, text=True, timeout=180, env=env)
    assert result.returncode != 0
    assert "OUTPUT: " in result.stdout + result.stderr and "is the same file as INPUT" in result.stdout + result.stderr
    assert _digest(scene) == before


def test_nothing_is_reported_as_written_unless_it_exists(rsseg_provider, tmp_path):
    from qgis.core import QgsProcessingException

    from plugin.algorithms.guard import check_written_outputs

    alg = next(a for a in rsseg_provider.algorithms() if a.name() == "export_onnx")
    (tmp_path / "m.onnx").write_bytes(b"model")
    check_written_outputs(alg, {"OUTPUT_MODEL": str(tmp_path / "m.onnx")})
    with pytest.raises(QgsProcessingException, match="OUTPUT_MODEL: .*missing.onnx was reported as written"):
        check_written_outputs(alg, {"OUTPUT_MODEL": str(tmp_path / "missing.onnx")})
