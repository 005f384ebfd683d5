"""rsseg:segment through Processing in a headless QGIS, and the class styling."""
from __future__ import annotations

import numpy as np
import pytest
import rasterio
from helpers import write_geotiff
from helpers_onnx import conv_model

from engine.model_card import ModelCard


@pytest.fixture
def case(tmp_path):
    rng = np.random.default_rng(0)
    raster = write_geotiff(tmp_path / "in.tif", (rng.random((3, 96, 80)) * 255).astype(np.uint8))
    card = ModelCard(class_names=["water", "trees", "roofs"], class_colors=[(0, 0, 255), (0, 160, 0), (200, 0, 0)])
    model = conv_model(tmp_path / "m.onnx", 3, 3, card=card)
    return tmp_path, raster, model


def test_segment_runs_through_processing(qgis_app, case):
    import processing

    tmp, raster, model = case
    results = processing.run("rsseg:segment", {
        "INPUT": str(raster), "MODEL": str(model), "TILE_SIZE": 32, "OVERLAP": 25, "DEVICE": 1,
        "EXTENT": "500010,500050,2799920,2799990 [EPSG:32640]",
        "OUTPUT": str(tmp / "classes.tif"), "CONFIDENCE": str(tmp / "conf.tif"),
    })
    assert results["PROVIDER"] == "CPUExecutionProvider"
    with rasterio.open(results["OUTPUT"]) as src:
        assert (src.height, src.width) == (70, 40)
        assert src.read(1).max() <= 2
    with rasterio.open(results["CONFIDENCE"]) as src:
        assert src.dtypes[0] == "float32"


def test_segment_errors_name_the_parameter(qgis_app, case):
    import processing
    from qgis.core import QgsProcessingException

    tmp, raster, model = case
    with pytest.raises(QgsProcessingException, match="BANDS: BANDS lists 2 bands, model expects 3"):
        processing.run("rsseg:segment", {"INPUT": str(raster), "MODEL": str(model), "BANDS": "1,2",
                                         "OUTPUT": str(tmp / "x.tif")})
    assert not (tmp / "x.tif").exists()


def test_class_style_post_processor(qgis_app, case):
    from qgis.core import (
        QgsPalettedRasterRenderer,
        QgsProcessingContext,
        QgsProcessingFeedback,
        QgsProject,
        QgsRasterLayer,
    )

    from plugin.styling import ClassStylePostProcessor, style_on_load

    tmp, raster, model = case
    path = str(tmp / "classes.tif")
    write_geotiff(path, np.arange(12, dtype=np.uint8).reshape(3, 4) % 3)
    context = QgsProcessingContext()
    assert not style_on_load(context, path, ["a", "b", "c"], [(1, 2, 3), (4, 5, 6), (7, 8, 9)])
    details = QgsProcessingContext.LayerDetails("classes", QgsProject.instance(), "OUTPUT")
    context.addLayerToLoadOnCompletion(path, details)
    assert style_on_load(context, path, ["a", "b", "c"], [(1, 2, 3), (4, 5, 6), (7, 8, 9)])
    processor = context.layerToLoadOnCompletionDetails(path).postProcessor()
    assert isinstance(processor, ClassStylePostProcessor)
    layer = QgsRasterLayer(path, "classes")
    processor.postProcessLayer(layer, context, QgsProcessingFeedback())
    renderer = layer.renderer()
    assert isinstance(renderer, QgsPalettedRasterRenderer)
    assert [c.label for c in renderer.classes()] == ["a", "b", "c"]
    assert renderer.classes()[2].color.getRgb()[:3] == (7, 8, 9)
