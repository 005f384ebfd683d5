"""What rsseg:segment and rsseg:cluster_map share: any raster layer in, the model's grid, and the
analyst's products out (polygons, area table), through ``engine.maps.segment_to_map``.

Parameter names are class constants (QGIS's Relief.py pattern) used everywhere; the two
algorithms add their model parameters and call :meth:`MapAlgorithm.run_map`.
"""
from __future__ import annotations

import json

from qgis.core import (
    QgsProcessing,
    QgsProcessingMultiStepFeedback,
    QgsProcessingOutputString,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterExtent,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterVectorDestination,
    QgsRectangle,
)

from ..extent import extent_in_layer_crs
from ..raster_adapter import DEFAULT_MAX_PIXELS, is_local_gdal_file, layer_to_raster
from ..styling import style_on_load
from .base import RssegAlgorithm, engine_errors, run_feedback, scratch_folder


class MapAlgorithm(RssegAlgorithm):
    """Base of the algorithms that write a class map."""

    INPUT = "INPUT"
    EXTENT = "EXTENT"
    DEVICE = "DEVICE"
    RESOLUTION = "RESOLUTION"
    MAX_PIXELS = "MAX_PIXELS"
    OUTPUT = "OUTPUT"
    OUTPUT_VECTOR = "OUTPUT_VECTOR"
    MIN_AREA = "MIN_AREA"
    SIMPLIFY = "SIMPLIFY"
    OUTPUT_AREAS = "OUTPUT_AREAS"
    PROVIDER = "PROVIDER"
    CLASS_AREAS = "CLASS_AREAS"

    # ------------------------------------------------------------------ parameters
    def add_input_parameters(self) -> None:
        """INPUT and EXTENT."""
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, self.tr("Input raster")))
        self.addParameter(QgsProcessingParameterExtent(
            self.EXTENT, self.tr("Extent (empty: whole raster; required for web layers)"), optional=True))

    def add_grid_parameters(self) -> None:
        """RESOLUTION and MAX_PIXELS (advanced)."""
        self.addParameter(QgsProcessingParameterNumber(
            self.RESOLUTION, self.tr("Ground resolution in cm/px (empty: the model's; 0: the raster's own)"),
            QgsProcessingParameterNumber.Double, optional=True, minValue=0))
        limit = QgsProcessingParameterNumber(
            self.MAX_PIXELS, self.tr("Largest read of a web or virtual layer, in pixels"),
            QgsProcessingParameterNumber.Integer, defaultValue=DEFAULT_MAX_PIXELS, optional=True, minValue=1)
        limit.setFlags(limit.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
        self.addParameter(limit)

    # optional with defaults: models saved before these parameters existed stay valid
    def add_product_parameters(self) -> None:
        """OUTPUT_VECTOR, MIN_AREA, SIMPLIFY, OUTPUT_AREAS; the PROVIDER and CLASS_AREAS results."""
        self.addParameter(QgsProcessingParameterVectorDestination(
            self.OUTPUT_VECTOR, self.tr("Class polygons"), QgsProcessing.TypeVectorPolygon,
            optional=True, createByDefault=False))
        self.addParameter(QgsProcessingParameterNumber(
            self.MIN_AREA, self.tr("Polygons: merge regions smaller than (m2)"),
            QgsProcessingParameterNumber.Double, defaultValue=0.0, optional=True, minValue=0))
        self.addParameter(QgsProcessingParameterNumber(
            self.SIMPLIFY, self.tr("Polygons: simplification tolerance (map units, 0: none)"),
            QgsProcessingParameterNumber.Double, defaultValue=0.0, optional=True, minValue=0))
        self.addParameter(QgsProcessingParameterFileDestination(
            self.OUTPUT_AREAS, self.tr("Area per class (CSV)"), fileFilter="CSV (*.csv)",
            optional=True, createByDefault=False))
        self.addOutput(QgsProcessingOutputString(self.PROVIDER, self.tr("Execution provider used")))
        self.addOutput(QgsProcessingOutputString(
            self.CLASS_AREAS, self.tr("Area per class (JSON: class_id, class_name, pixels, area_m2, percent)")))

    def map_help(self) -> str:
        """Help of the shared parameters, appended to each algorithm's own."""
        return self.tr(
            "INPUT: any raster layer. Local GDAL files (GeoTIFF, VRT mosaics, ...) are read directly; web "
            "(WMS/WMTS/XYZ), virtual and in-memory layers are first read through QGIS at the run's resolution "
            "into a temporary GeoTIFF.\n"
            "EXTENT: only this area (any CRS). Required for web layers, which cover the whole world.\n"
            "RESOLUTION: ground resolution in cm per pixel the model runs at. Empty: the model card's "
            "'resolution' (the imagery it was trained on); 0: the raster's own. When the raster differs by "
            "more than 5 %, it is resampled on the fly (GDAL warped VRT) and the outputs are written on that "
            "grid. Rasters in degrees or in web Mercator are always processed in the UTM zone of the area.\n"
            "MAX_PIXELS (advanced): a web or virtual layer read larger than this is refused; raise it if "
            "your disk and time allow.\n"
            "OUTPUT_VECTOR: optional polygons, one per connected region of a class, with class_id, "
            "class_name, area_m2 (ground area of its pixels) and confidence (mean probability of the chosen "
            "class); GeoPackage by default, styled with the class colours.\n"
            "MIN_AREA: polygons only: regions smaller than this many square metres are merged into their "
            "largest neighbour (GDAL sieve) before polygonizing. The class raster is not changed.\n"
            "SIMPLIFY: polygons only: Douglas-Peucker tolerance in map units of the output (metres for a "
            "metric CRS); 0 keeps the pixel outlines.\n"
            "OUTPUT_AREAS: optional CSV with one row per class: class_id, class_name, pixels, area_m2, percent "
            "(of the valid pixels of the class raster). The same table is the CLASS_AREAS result (JSON)."
        )

    # ------------------------------------------------------------------ running
    def input_extent(self, parameters, context, layer):
        """EXTENT in the layer's CRS (plugin.extent: the checks every algorithm shares), or None when empty."""
        box = extent_in_layer_crs(self, parameters, context, layer, self.EXTENT)
        return None if box is None else QgsRectangle(*box)

    def resolution_cm(self, parameters, context) -> float | None:
        """RESOLUTION: None when empty (the model card decides), 0 = native."""
        if parameters.get(self.RESOLUTION) in (None, ""):
            return None
        return self.parameterAsDouble(parameters, self.RESOLUTION, context)

    def number_or(self, parameters, context, name: str, default: float) -> float:
        """An optional number parameter, ``default`` when it is left empty."""
        if parameters.get(name) in (None, ""):
            return default
        return self.parameterAsDouble(parameters, name, context)

    def map_options(self, parameters, context, confidence_path: str | None = None):
        """The engine's MapOptions from this run's parameters."""
        from engine.maps import MapOptions

        return MapOptions(
            resolution_cm=self.resolution_cm(parameters, context),
            vector_path=self.parameterAsOutputLayer(parameters, self.OUTPUT_VECTOR, context) or None,
            areas_csv=self.parameterAsFileOutput(parameters, self.OUTPUT_AREAS, context) or None,
            min_area_m2=self.number_or(parameters, context, self.MIN_AREA, 0.0),
            simplify=self.number_or(parameters, context, self.SIMPLIFY, 0.0),
            confidence_path=confidence_path,
        )

    def run_map(self, parameters, context, feedback, segment, output: str, card_resolution_cm: float | None,
                confidence_path: str | None = None):
        """Read INPUT (adapter if needed), then ``engine.maps.segment_to_map``; QGIS errors for engine errors.

        ``segment(path, extent, confidence_path, run_feedback)`` segments on the chosen grid into
        ``output``. Every destination is resolved once per run (``parameterAsOutputLayer`` of a
        TEMPORARY_OUTPUT gives a new path on each call).
        """
        from engine.maps import check_outputs, segment_to_map

        layer = self.parameterAsRasterLayer(parameters, self.INPUT, context)
        extent = self.input_extent(parameters, context, layer) if layer is not None else None
        options = self.map_options(parameters, context, confidence_path)
        # a layer read through QGIS takes the first half of the progress bar, the run the second
        copied_first = feedback is not None and layer is not None and not is_local_gdal_file(layer)
        steps = QgsProcessingMultiStepFeedback(2, feedback) if copied_first else feedback
        with engine_errors(self.tr("Cancelled: no output was written")), scratch_folder("layer_") as folder:
            check_outputs(output, options)  # before a possibly long read of a web layer
            read_cm = options.resolution_cm if options.resolution_cm is not None else card_resolution_cm
            max_pixels = int(self.number_or(parameters, context, self.MAX_PIXELS, DEFAULT_MAX_PIXELS))
            path, copied = layer_to_raster(layer, self.INPUT, extent, read_cm or None, max_pixels, folder, steps)
            if copied_first:
                steps.setCurrentStep(1)
            box = None if copied or extent is None else (extent.xMinimum(), extent.yMinimum(),
                                                          extent.xMaximum(), extent.yMaximum())
            return segment_to_map(path, box, output, options, segment, card_resolution_cm, run_feedback(steps))

    def map_results(self, context, result, output: str) -> dict:
        """Result entries for the products, and the class style on every loaded output."""
        from engine.areas import areas_as_dicts

        names, colors = result.segment.class_names, result.segment.class_colors
        style_on_load(context, output, names, colors)
        outputs = {self.OUTPUT: output, self.PROVIDER: result.segment.provider,
                   self.CLASS_AREAS: json.dumps(areas_as_dicts(result.areas))}
        if result.vector is not None:
            style_on_load(context, result.vector.path, names, colors)
            outputs[self.OUTPUT_VECTOR] = result.vector.path
        if result.options.areas_csv:
            outputs[self.OUTPUT_AREAS] = result.options.areas_csv
        return outputs

    def log_areas(self, feedback, result) -> None:
        """One log line per class with its area."""
        for area in result.areas:
            feedback.pushInfo(self.tr("{}: {} px, {:.1f} m2, {:.2f} %").format(
                area.class_name, area.pixels, area.area_m2, area.percent))
