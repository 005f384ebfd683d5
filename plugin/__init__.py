"""The QGIS side of rsseg: Processing provider, algorithms, layer adapters and styling.

Thin by design: parameters are parsed here and the work is delegated to ``engine`` and
``training``. Nothing here imports torch at module level.
"""
