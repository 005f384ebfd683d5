"""rsseg training: self-supervised pretraining, fine-tuning and ONNX export in plain torch.

Imports no qgis, so it runs from the command line (``python -m training ...``), under
``torchrun`` and inside QGIS Processing alike.
"""
