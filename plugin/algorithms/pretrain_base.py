"""The Processing algorithm every pretraining method shares.

Main parameters (INPUT, INPUT_FOLDER, BANDS, PATCH_SIZE, BATCH_SIZE, EPOCHS, LEARNING_RATE,
BACKBONE, DEVICE, OUTPUT_CHECKPOINT, RESUME) are the same for all methods; every other
field of the method's config dataclass becomes an "advanced" parameter named after the
field in capitals (labels and help in :mod:`.pretrain_fields`), so the form, the modeler
and qgis_process expose the whole config. Building the form reads the config dataclass
only: no torch import at plugin load.

Cancelling (like every rsseg algorithm) raises, so the run ends with an error and
qgis_process exits non-zero; the checkpoint of the last finished epoch stays in
OUTPUT_CHECKPOINT. RESUME is off by default, as for fine-tuning: a run continues an existing
checkpoint only when asked to.
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
from .base import RssegAlgorithm, engine_errors, parse_bands, run_feedback
from .pretrain_fields import field_texts

BACKBONES = ["resnet18", "resnet34", "resnet50"]
# config fields set from other parameters, or meaningless in a form
HANDLED_FIELDS = {"inputs", "bands", "backbone", "device"}


def field_parameter(field_name: str) -> str:
    """Name of the parameter for a config field: the field in capitals (a contract with the
    CLI's --field-name and the docs)."""
    return field_name.upper()


def _number_kind(default):
    """A float field takes decimals in the form, an int field whole numbers."""
    return QgsProcessingParameterNumber.Double if isinstance(default, float) else QgsProcessingParameterNumber.Integer


class PretrainAlgorithm(RssegAlgorithm):
    """Subclasses set ``method_name`` (a key of training.methods.CONFIGS), ``algorithm_name``,
    ``displayName`` and ``shortHelpString``; ``extra_main_fields`` promotes config fields
    of their method to the main form."""

    INPUT = "INPUT"
    INPUT_FOLDER = "INPUT_FOLDER"
    BANDS = "BANDS"
    PATCH_SIZE = "PATCH_SIZE"
    BATCH_SIZE = "BATCH_SIZE"
    EPOCHS = "EPOCHS"
    LEARNING_RATE = "LEARNING_RATE"
    BACKBONE = "BACKBONE"
    RESUME = "RESUME"
    OUTPUT_CHECKPOINT = "OUTPUT_CHECKPOINT"

    group_key = "pretraining"
    requires = ("torch", "rasterio")
    method_name = ""
    backbones: list[str] = BACKBONES
    # config field -> (parameter name, label) of the main (non-advanced) number parameters;
    # labels marked with QT_TRANSLATE_NOOP so pylupdate5 collects them under PretrainAlgorithm
    MAIN_FIELDS: dict[str, tuple[str, str]] = {
        "patch_size": (PATCH_SIZE, QT_TRANSLATE_NOOP("PretrainAlgorithm", "Patch size (pixels)")),
        "batch_size": (BATCH_SIZE, QT_TRANSLATE_NOOP("PretrainAlgorithm", "Batch size")),
        "epochs": (EPOCHS, QT_TRANSLATE_NOOP("PretrainAlgorithm", "Epochs")),
        "learning_rate": (LEARNING_RATE, QT_TRANSLATE_NOOP("PretrainAlgorithm", "Learning rate")),
    }
    extra_main_fields: dict[str, tuple[str, str]] = {}

    def config_class(self):
        """The method's config dataclass (imported without torch)."""
        from training.methods import config_class

        return config_class(self.method_name)

    def main_fields(self) -> dict[str, tuple[str, str]]:
        """Config fields shown in the main form: the shared ones and the method's own."""
        return {**self.MAIN_FIELDS, **self.extra_main_fields}

    def advanced_fields(self) -> list[dataclasses.Field]:
        """Config fields that become advanced parameters: all the others."""
        main = self.main_fields()
        return [f for f in dataclasses.fields(self.config_class()) if f.name not in HANDLED_FIELDS | set(main)]

    def initAlgorithm(self, config=None):
        defaults = self.config_class()()
        self.addParameter(QgsProcessingParameterMultipleLayers(
            self.INPUT, self.tr("Input rasters (unlabeled imagery)"), QgsProcessing.TypeRaster, optional=True))
        self.addParameter(QgsProcessingParameterFile(
            self.INPUT_FOLDER, self.tr("Or a folder of rasters"), behavior=QgsProcessingParameterFile.Folder,
            optional=True))
        self.addParameter(QgsProcessingParameterString(
            self.BANDS, self.tr("Bands (1-based, comma separated; empty = all)"), optional=True))
        for field_name, (param, label) in self.main_fields().items():
            self.addParameter(self._number_parameter(param, self.tr(label), getattr(defaults, field_name)))
        if self.backbones:
            default = self.backbones.index(defaults.backbone) if defaults.backbone in self.backbones else 0
            self.addParameter(QgsProcessingParameterEnum(
                self.BACKBONE, self.tr("Backbone"), options=self.backbones, defaultValue=default))
        self.add_device_parameter()
        self.addParameter(QgsProcessingParameterBoolean(
            self.RESUME, self.tr("Resume from OUTPUT_CHECKPOINT if it exists"), defaultValue=False))
        for f in self.advanced_fields():
            parameter = self._advanced_parameter(f, getattr(defaults, f.name))
            if parameter is not None:
                parameter.setFlags(parameter.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
                self.addParameter(parameter)
        self.addParameter(QgsProcessingParameterFileDestination(
            self.OUTPUT_CHECKPOINT, self.tr("Output checkpoint"), fileFilter=self.tr("rsseg checkpoint (*.pt)")))

    @staticmethod
    def _number_parameter(name: str, label: str, default):
        return QgsProcessingParameterNumber(name, label, type=_number_kind(default), defaultValue=default, minValue=0)

    def _advanced_parameter(self, f: dataclasses.Field, default):
        """The parameter of one config field, its label and help translated; None for a
        field that has no text form (nested lists)."""
        from training.config import list_item_type

        name = field_parameter(f.name)
        label, help_text = (self.tr(text) if text else text for text in field_texts(f.name))
        if isinstance(default, bool):
            parameter = QgsProcessingParameterBoolean(name, label, defaultValue=default)
        elif isinstance(default, (int, float)):
            parameter = QgsProcessingParameterNumber(name, label, type=_number_kind(default), defaultValue=default)
        elif isinstance(default, str):
            parameter = QgsProcessingParameterString(name, label, defaultValue=default)
        elif isinstance(default, (list, tuple)) and list_item_type(f, default) is not None:
            parameter = QgsProcessingParameterString(name, label, defaultValue=",".join(map(str, default)),
                                                     optional=True)
        else:
            return None
        if help_text:
            parameter.setHelp(help_text)
        return parameter

    def _inputs(self, parameters, context) -> list[str]:
        layers = self.parameterAsLayerList(parameters, self.INPUT, context)
        inputs = raster_layers_paths(layers) if layers else []
        folder = self.parameterAsFile(parameters, self.INPUT_FOLDER, context)
        if folder:
            if not os.path.isdir(folder):
                raise QgsProcessingException(
                    self.tr("{}: {} is not a folder").format(self.INPUT_FOLDER, folder))
            inputs.append(folder)
        if not inputs:
            raise QgsProcessingException(
                self.tr("{}: choose at least one raster layer, or set {}").format(self.INPUT, self.INPUT_FOLDER))
        return inputs

    def build_config(self, parameters, context):
        """The method's config dataclass filled from the parameters."""
        from training.config import parse_field_value

        cls = self.config_class()
        defaults = cls()
        values = {"inputs": self._inputs(parameters, context),
                  "bands": parse_bands(self.parameterAsString(parameters, self.BANDS, context))}
        for field_name, (param, _label) in self.main_fields().items():
            values[field_name] = self._number(parameters, param, context, getattr(defaults, field_name))
        if self.backbones:
            values["backbone"] = self.backbones[self.parameterAsEnum(parameters, self.BACKBONE, context)]
        values["device"] = self.device_choice(parameters, context)
        for f in self.advanced_fields():
            default = getattr(defaults, f.name)
            name = field_parameter(f.name)
            if name not in parameters or parameters[name] is None:
                continue
            if isinstance(default, bool):
                values[f.name] = self.parameterAsBool(parameters, name, context)
            elif isinstance(default, (int, float)):
                values[f.name] = self._number(parameters, name, context, default)
            else:  # strings and lists: the rule the CLI and the benchmarks use too
                try:
                    values[f.name] = parse_field_value(cls, f.name, self.parameterAsString(parameters, name, context))
                except ValueError as exc:  # names the parameter and the expected form
                    raise QgsProcessingException(str(exc)) from None
        return cls(**values)

    def _number(self, parameters, name, context, default):
        if isinstance(default, float):
            return float(self.parameterAsDouble(parameters, name, context))
        return int(self.parameterAsInt(parameters, name, context))

    def processAlgorithm(self, parameters, context, feedback):
        self.check_dependencies()
        from training.methods import pretrain

        config = self.build_config(parameters, context)
        output = self.parameterAsFileOutput(parameters, self.OUTPUT_CHECKPOINT, context)
        resume = self.parameterAsBool(parameters, self.RESUME, context)
        # a cancel exits non-zero, as fine-tuning: scripts must not take a cancel for success
        cancelled = self.tr("Cancelled: the state reached is saved in {}; run again with RESUME to continue")
        with engine_errors(cancelled.format(output)):
            result = pretrain(self.method_name, config, output, feedback=run_feedback(feedback), resume=resume)
        for path in result.diagnostics[-4:]:
            feedback.pushInfo(self.tr("Diagnostic image: {}").format(path))
        return {self.OUTPUT_CHECKPOINT: str(result.checkpoint)}
