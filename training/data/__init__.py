"""Reading training patches from rasters (rasterio windows, no qgis)."""
