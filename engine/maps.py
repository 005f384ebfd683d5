"""A segmentation run as an analyst's map: the model's grid, the class raster, polygons, area table.

Both ``rsseg:segment`` and ``rsseg:cluster_map`` (and scripts) go through
:func:`segment_to_map`: it chooses the grid (``engine.resample``: model resolution, metric
CRS), lets the caller segment on it (the two algorithms make their model differently),
then derives the products from the written class raster, never from memory:

    plan_grid -> segment(path, extent, confidence) -> class_area_statistics -> vectorize_classes

A confidence raster is needed for the polygons' ``confidence`` field; when the caller did
not ask for one, a temporary one is written and deleted afterwards.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Callable

from .areas import ClassArea, class_area_statistics, write_area_csv
from .progress import RunFeedback
from .raster_io import check_writable
from .resample import GridPlan, plan_grid
from .run_scope import run_temp_dir
from .vectorize import VectorResult, vector_driver, vectorize_classes

SEGMENT_SHARE = 0.85   # progress given to segmentation when polygons follow


@dataclass(frozen=True)
class MapOptions:
    """What the user asked for beyond the class raster."""

    resolution_cm: float | None = None      # None: the model card's; 0: native
    vector_path: str | None = None
    areas_csv: str | None = None
    min_area_m2: float = 0.0
    simplify: float = 0.0
    confidence_path: str | None = None      # kept only when the user asked for it


@dataclass
class MapResult:
    """The products of a run; ``segment`` is what the segment callable returned."""

    segment: object
    grid: GridPlan
    options: MapOptions
    areas: list[ClassArea] = field(default_factory=list)
    vector: VectorResult | None = None


def read_model_card(model_path: str):
    """The card of an ONNX model without optimising its graph (only the metadata is needed)."""
    import onnxruntime as ort

    from .model_card import ModelCard

    if not os.path.isfile(model_path):
        raise ValueError(f"MODEL: {model_path} does not exist")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(model_path, sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime's own exception types
        raise ValueError(f"MODEL: {model_path} is not an ONNX model onnxruntime can open ({exc})") from None
    return ModelCard.from_metadata(session.get_modelmeta().custom_metadata_map)


def sub_feedback(feedback: RunFeedback, start: float, span: float) -> RunFeedback:
    """The same log and cancel, with progress 0..100 mapped onto start..start+span of the parent."""
    return RunFeedback(progress=lambda percent: feedback.set_progress(start + span * percent / 100.0),
                       log=feedback.log, is_cancelled=feedback.is_cancelled)


def check_outputs(output_path: str, options: MapOptions) -> None:
    """Fail before any work when an output cannot be written or collides with another."""
    paths = {"OUTPUT": output_path, "CONFIDENCE": options.confidence_path,
             "OUTPUT_VECTOR": options.vector_path, "OUTPUT_AREAS": options.areas_csv}
    seen: dict[str, str] = {}
    for name, path in paths.items():
        if not path:
            continue
        check_writable(path, name)
        key = os.path.abspath(path)
        if key in seen:
            raise ValueError(f"{name}: same file as {seen[key]}; choose another name")
        seen[key] = name
    if options.vector_path:
        vector_driver(options.vector_path)
    if options.min_area_m2 < 0:
        raise ValueError(f"MIN_AREA: expected 0 or a positive area in m2, got {options.min_area_m2}")
    if options.simplify < 0:
        raise ValueError(f"SIMPLIFY: expected 0 or a positive tolerance in map units, got {options.simplify}")


def segment_to_map(input_path: str, extent: tuple[float, float, float, float] | None, output_path: str,
                   options: MapOptions, segment: Callable[[str, tuple | None, str | None, RunFeedback], object],
                   card_resolution_cm: float | None = None, feedback: RunFeedback | None = None) -> MapResult:
    """Plan the grid, segment on it (``segment(path, extent, confidence_path, feedback)`` -> a
    SegmentResult-like object with ``class_names``), then area statistics and polygons."""
    feedback = feedback or RunFeedback()
    check_outputs(output_path, options)
    workdir = tempfile.mkdtemp(prefix="map_", dir=run_temp_dir())
    try:
        grid = plan_grid(input_path, extent, workdir, resolution_cm=options.resolution_cm,
                         card_resolution_cm=card_resolution_cm)
        feedback.log(grid.message)
        confidence = options.confidence_path
        if options.vector_path and not confidence:
            confidence = os.path.join(workdir, "confidence.tif")
        share = SEGMENT_SHARE if options.vector_path else 0.97
        result = segment(grid.path, grid.extent, confidence, sub_feedback(feedback, 0.0, share))
        areas = class_area_statistics(output_path, list(result.class_names), feedback)
        if options.areas_csv:
            write_area_csv(options.areas_csv, areas)
        vector = None
        if options.vector_path:
            vector = vectorize_classes(output_path, options.vector_path, list(result.class_names),
                                       confidence_path=confidence, min_area_m2=options.min_area_m2,
                                       simplify=options.simplify, feedback=sub_feedback(feedback, share, 1.0 - share))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    feedback.set_progress(1.0)
    return MapResult(result, grid, options, areas, vector)
