"""Class-map styling: a paletted renderer (rasters) or a categorized one (polygons) from a
model's class names and colours.

Used by every algorithm that writes a class raster or its polygons (segment, cluster_map):
the result opens in QGIS Desktop with one legend entry per class, named and coloured as in
the model card, instead of a grey stretch of class numbers or one random fill colour.

    style_on_load(context, output_path, names, colors)   # inside processAlgorithm
    apply_class_style(layer, names, colors)               # on a layer already loaded
    apply_vector_class_style(layer, names, colors)        # polygons with a class_id field
"""
from __future__ import annotations

from typing import Sequence

from qgis.core import (
    QgsCategorizedSymbolRenderer,
    QgsFillSymbol,
    QgsPalettedRasterRenderer,
    QgsProcessingContext,
    QgsProcessingLayerPostProcessorInterface,
    QgsRasterLayer,
    QgsRendererCategory,
    QgsVectorLayer,
)
from qgis.PyQt.QtGui import QColor


def paletted_renderer(layer: QgsRasterLayer, names: Sequence[str], colors: Sequence[Sequence[int]],
                      band: int = 1) -> QgsPalettedRasterRenderer:
    """One palette entry per class value 0..K-1 (nodata stays transparent)."""
    classes = [
        QgsPalettedRasterRenderer.Class(value, QColor(*[int(v) for v in color[:3]]), str(name))
        for value, (name, color) in enumerate(zip(names, colors))
    ]
    return QgsPalettedRasterRenderer(layer.dataProvider(), band, classes)


def apply_class_style(layer: QgsRasterLayer, names: Sequence[str], colors: Sequence[Sequence[int]],
                      band: int = 1) -> None:
    """Give ``layer`` the paletted renderer of its classes and redraw it."""
    if len(names) != len(colors):
        raise ValueError(f"{len(names)} class names but {len(colors)} colours")
    layer.setRenderer(paletted_renderer(layer, names, colors, band))
    layer.triggerRepaint()


def categorized_renderer(names: Sequence[str], colors: Sequence[Sequence[int]],
                         field: str = "class_id") -> QgsCategorizedSymbolRenderer:
    """One category per class id, filled with the class colour and labelled with its name."""
    categories = []
    for value, (name, color) in enumerate(zip(names, colors)):
        symbol = QgsFillSymbol.createSimple({"color": ",".join(str(int(v)) for v in color[:3]),
                                             "outline_style": "no"})
        categories.append(QgsRendererCategory(value, symbol, str(name)))
    return QgsCategorizedSymbolRenderer(field, categories)


def apply_vector_class_style(layer: QgsVectorLayer, names: Sequence[str], colors: Sequence[Sequence[int]]) -> None:
    """Give polygons with a ``class_id`` field the categorized renderer of their classes."""
    if len(names) != len(colors):
        raise ValueError(f"{len(names)} class names but {len(colors)} colours")
    layer.setRenderer(categorized_renderer(names, colors))
    layer.triggerRepaint()


class ClassStylePostProcessor(QgsProcessingLayerPostProcessorInterface):
    """Applies the class style when Processing loads the output layer (raster or polygons).

    QGIS keeps only a C++ pointer to a post-processor: the Python object must outlive the
    algorithm run, so :meth:`create` keeps a module-level reference to every instance
    (they are tiny: a list of names and colours).
    """

    _alive: list[ClassStylePostProcessor] = []

    def __init__(self, names: Sequence[str], colors: Sequence[Sequence[int]]):
        super().__init__()
        self.names = list(names)
        self.colors = [tuple(int(v) for v in c[:3]) for c in colors]

    @classmethod
    def create(cls, names: Sequence[str], colors: Sequence[Sequence[int]]) -> ClassStylePostProcessor:
        instance = cls(names, colors)
        cls._alive.append(instance)
        del cls._alive[:-32]  # a long session keeps the last few; each was used right after its run
        return instance

    def postProcessLayer(self, layer, context, feedback):
        if isinstance(layer, QgsRasterLayer) and layer.isValid():
            apply_class_style(layer, self.names, self.colors)
        elif isinstance(layer, QgsVectorLayer) and layer.isValid() and layer.fields().indexOf("class_id") >= 0:
            apply_vector_class_style(layer, self.names, self.colors)


def style_on_load(context: QgsProcessingContext, output_path: str, names: Sequence[str],
                  colors: Sequence[Sequence[int]]) -> bool:
    """Style ``output_path`` with the classes when QGIS loads it after the run; False if it will not be loaded."""
    if not output_path or not context.willLoadLayerOnCompletion(output_path):
        return False
    details = context.layerToLoadOnCompletionDetails(output_path)
    details.setPostProcessor(ClassStylePostProcessor.create(names, colors))
    return True
