"""The Processing algorithm every pretraining method shares.

Main parameters (INPUT, INPUT_FOLDER, BANDS, PATCH_SIZE, BATCH_SIZE, EPOCHS, LEARNING_RATE,
BACKBONE, DEVICE, OUTPUT_CHECKPOINT, RESUME) are the same for all methods; every other
field of the method's config dataclass becomes an "advanced" parameter named after the
field in capitals, so the form, the modeler and qgis_process expose the whole config.
Building the form reads the config dataclass only: no torch import at plugin load.
"""
from __future__ import annotations

import dataclasses
import os

from qgis.core import (
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
)
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP

from ..layers import raster_layers_paths
from .base import RssegAlgorithm, parse_bands, run_feedback

BACKBONES = ["resnet18", "resnet34", "resnet50"]

# config field -> (parameter name, label) for the main (non-advanced) parameters
# (labels marked with QT_TRANSLATE_NOOP so pylupdate5 collects them under PretrainAlgorithm)
MAIN_FIELDS = {
    "patch_size": ("PATCH_SIZE", QT_TRANSLATE_NOOP("PretrainAlgorithm", "Patch size (pixels)")),
    "batch_size": ("BATCH_SIZE", QT_TRANSLATE_NOOP("PretrainAlgorithm", "Batch size")),
    "epochs": ("EPOCHS", QT_TRANSLATE_NOOP("PretrainAlgorithm", "Epochs")),
    "learning_rate": ("LEARNING_RATE", QT_TRANSLATE_NOOP("PretrainAlgorithm", "Learning rate")),
}
# fields set from other parameters, or meaningless in a form
HANDLED_FIELDS = {"inputs", "bands", "backbone", "device"}


class PretrainAlgorithm(RssegAlgorithm):
    """Subclasses set ``method_name`` (a key of training.methods.CONFIGS), ``algorithm_name``,
    ``displayName`` and ``shortHelpString``; ``extra_main_fields`` promotes config fields
    of their method to the main form."""

    group_key = "pretraining"
    requires = ("torch", "rasterio")
    method_name = ""
    backbones: list[str] = BACKBONES
    extra_main_fields: dict[str, tuple[str, str]] = {}

    def config_class(self):
        from training.methods import config_class

        return config_class(self.method_name)

    def main_fields(self) -> dict[str, tuple[str, str]]:
        return {**MAIN_FIELDS, **self.extra_main_fields}

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS API name)
        cls = self.config_class()
        defaults = cls()
        self.addParameter(QgsProcessingParameterMultipleLayers(
            "INPUT", self.tr("Input rasters (unlabeled imagery)"), QgsProcessing.TypeRaster, optional=True))
        self.addParameter(QgsProcessingParameterFile(
            "INPUT_FOLDER", self.tr("Or a folder of rasters"), behavior=QgsProcessingParameterFile.Folder, optional=True))
        self.addParameter(QgsProcessingParameterString(
            "BANDS", self.tr("Bands (1-based, comma separated; empty = all)"), optional=True))
        for field_name, (param, label) in self.main_fields().items():
            self.addParameter(self._number_parameter(param, self.tr(label), getattr(defaults, field_name)))
        if self.backbones:
            self.addParameter(QgsProcessingParameterEnum(
                "BACKBONE", self.tr("Backbone"), options=self.backbones,
                defaultValue=max(0, self.backbones.index(defaults.backbone)) if defaults.backbone in self.backbones else 0))
        self.add_device_parameter()
        self.addParameter(QgsProcessingParameterBoolean(
            "RESUME", self.tr("Resume from OUTPUT_CHECKPOINT if it exists"), defaultValue=True))
        for f in dataclasses.fields(cls):
            if f.name in HANDLED_FIELDS or f.name in self.main_fields():
                continue
            parameter = self._advanced_parameter(f, getattr(defaults, f.name))
            if parameter is not None:
                parameter.setFlags(parameter.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
                self.addParameter(parameter)
        self.addParameter(QgsProcessingParameterFileDestination(
            "OUTPUT_CHECKPOINT", self.tr("Output checkpoint"), fileFilter="rsseg checkpoint (*.pt)"))

    @staticmethod
    def _number_parameter(name: str, label: str, default):
        kind = QgsProcessingParameterNumber.Double if isinstance(default, float) else QgsProcessingParameterNumber.Integer
        return QgsProcessingParameterNumber(name, label, type=kind, defaultValue=default, minValue=0)

    def _advanced_parameter(self, f: dataclasses.Field, default):
        name, label = f.name.upper(), f.name.replace("_", " ").capitalize()
        if isinstance(default, bool):
            return QgsProcessingParameterBoolean(name, label, defaultValue=default)
        if isinstance(default, (int, float)):
            kind = QgsProcessingParameterNumber.Double if isinstance(default, float) else QgsProcessingParameterNumber.Integer
            return QgsProcessingParameterNumber(name, label, type=kind, defaultValue=default)
        if isinstance(default, str):
            return QgsProcessingParameterString(name, label, defaultValue=default)
        if isinstance(default, (list, tuple)):
            return QgsProcessingParameterString(name, label, defaultValue=",".join(map(str, default)), optional=True)
        return None

    def build_config(self, parameters, context):
        """The method's config dataclass filled from the parameters."""
        cls = self.config_class()
        defaults = cls()
        layers = self.parameterAsLayerList(parameters, "INPUT", context)
        inputs = raster_layers_paths(layers) if layers else []
        folder = self.parameterAsFile(parameters, "INPUT_FOLDER", context)
        if folder:
            if not os.path.isdir(folder):
                raise QgsProcessingException(f"INPUT_FOLDER: {folder} is not a folder")
            inputs.append(folder)
        if not inputs:
            raise QgsProcessingException("INPUT: choose at least one raster layer, or set INPUT_FOLDER")
        values = {"inputs": inputs, "bands": parse_bands(self.parameterAsString(parameters, "BANDS", context))}
        for field_name, (param, _label) in self.main_fields().items():
            values[field_name] = self._number(parameters, param, context, getattr(defaults, field_name))
        if self.backbones:
            values["backbone"] = self.backbones[self.parameterAsEnum(parameters, "BACKBONE", context)]
        values["device"] = self.device_choice(parameters, context)
        for f in dataclasses.fields(cls):
            if f.name in values or f.name in HANDLED_FIELDS:
                continue
            default = getattr(defaults, f.name)
            name = f.name.upper()
            if name not in parameters or parameters[name] is None:
                continue
            if isinstance(default, bool):
                values[f.name] = self.parameterAsBool(parameters, name, context)
            elif isinstance(default, (int, float)):
                values[f.name] = self._number(parameters, name, context, default)
            elif isinstance(default, str):
                values[f.name] = self.parameterAsString(parameters, name, context)
            elif isinstance(default, (list, tuple)):
                text = self.parameterAsString(parameters, name, context)
                item = type(default[0]) if default else float
                try:
                    values[f.name] = [item(v) for v in text.replace(",", " ").split()]
                except ValueError:
                    raise QgsProcessingException(f"{name}: expected a comma-separated list, got {text!r}") from None
        return cls(**values)

    def _number(self, parameters, name, context, default):
        if isinstance(default, float):
            return float(self.parameterAsDouble(parameters, name, context))
        return int(self.parameterAsInt(parameters, name, context))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 (QGIS API name)
        self.check_dependencies()
        from engine.progress import Cancelled
        from training.methods import pretrain

        config = self.build_config(parameters, context)
        output = self.parameterAsFileOutput(parameters, "OUTPUT_CHECKPOINT", context)
        resume = self.parameterAsBool(parameters, "RESUME", context)
        try:
            result = pretrain(self.method_name, config, output, feedback=run_feedback(feedback), resume=resume)
        except Cancelled:  # non-zero exit, as fine-tuning: scripts must not take a cancel for success
            message = self.tr("Cancelled: the state reached is saved in {}; run again with RESUME to continue")
            raise QgsProcessingException(message.format(output)) from None
        except ValueError as exc:  # our messages name the parameter and the fix
            raise QgsProcessingException(str(exc)) from None
        for path in result.diagnostics[-4:]:
            feedback.pushInfo(f"diagnostic image: {path}")
        return {"OUTPUT_CHECKPOINT": str(result.checkpoint)}
