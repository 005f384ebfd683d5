"""rsseg inference engine: tiled, streaming ONNX segmentation of rasters of any size.

Depends on numpy, onnxruntime and rasterio only (never torch, never qgis), so the same
code runs inside QGIS, in ``qgis_process`` and in plain Python scripts.
"""
