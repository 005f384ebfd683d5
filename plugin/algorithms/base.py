"""What every rsseg Processing algorithm shares: naming, groups, translation, dependency
checks, the bridge from QGIS feedback to the engine's :class:`RunFeedback`, and the
safety rules of docs/safety.md applied to every run (see :func:`_guarded`)."""
from __future__ import annotations

import contextlib
import functools
import shutil
import tempfile
import time
from collections.abc import Iterator

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingParameterEnum,
)
from qgis.PyQt.QtCore import QT_TRANSLATE_NOOP, QCoreApplication

from ..dependencies import missing_message, missing_modules
from .guard import check_run_paths, check_written_outputs

# QT_TRANSLATE_NOOP returns the text unchanged; it marks it for pylupdate5.
GROUPS = {
    "pretraining": QT_TRANSLATE_NOOP("RssegAlgorithm", "Pretraining"),
    "finetuning": QT_TRANSLATE_NOOP("RssegAlgorithm", "Fine-tuning"),
    "inference": QT_TRANSLATE_NOOP("RssegAlgorithm", "Inference"),
    "evaluation": QT_TRANSLATE_NOOP("RssegAlgorithm", "Evaluation"),
    "tools": QT_TRANSLATE_NOOP("RssegAlgorithm", "Tools"),
}

# DEVICE choices, in enum order (auto picks CUDA when there is one, else the CPU)
DEVICES = ["auto", "cpu", "cuda"]


def parse_bands(text: str | None) -> list[int]:
    """BANDS parameter: '1,2,3' or '1 2 3' -> [1, 2, 3]; empty -> [] (all / the model's bands)."""
    if not text or not str(text).strip():
        return []
    try:
        return [int(part) for part in str(text).replace(",", " ").split()]
    except ValueError:
        message = QCoreApplication.translate(
            "RssegAlgorithm", "BANDS: expected 1-based band numbers such as '1,2,3', got {}")
        raise QgsProcessingException(message.format(repr(text))) from None


class RssegAlgorithm(QgsProcessingAlgorithm):
    """Base class. Subclasses set ``algorithm_name``, ``group_key``, ``requires`` and
    implement ``displayName``, ``shortHelpString``, ``initAlgorithm`` and ``processAlgorithm``."""

    DEVICE = "DEVICE"

    algorithm_name = ""
    group_key = "inference"
    requires: tuple[str, ...] = ("onnxruntime", "rasterio")
    # files an output parameter also writes beside itself, guarded like the output: {"OUTPUT_CHECKPOINT": (".last.pt",)}
    output_companions: dict[str, tuple[str, ...]] = {}

    def __init_subclass__(cls, **kwargs):
        """Every subclass's ``processAlgorithm`` runs inside :func:`_guarded`, so no algorithm can skip the rules."""
        super().__init_subclass__(**kwargs)
        body = cls.__dict__.get("processAlgorithm")
        if body is not None and not getattr(body, "rsseg_guarded", False):
            cls.processAlgorithm = _guarded(body)

    def tr(self, text: str) -> str:
        """Translate ``text``. pylupdate5 records the class whose body holds the
        ``self.tr()`` call as context, so a string written in a base class (e.g. the
        shared pretraining form) is looked up under each class of the MRO in turn."""
        for cls in type(self).__mro__:
            if cls is RssegAlgorithm.__base__:
                break
            translated = QCoreApplication.translate(cls.__name__, text)
            if translated != text:
                return translated
        return text

    def createInstance(self):
        return type(self)()

    def name(self) -> str:
        return self.algorithm_name

    def group(self) -> str:
        return QCoreApplication.translate("RssegAlgorithm", GROUPS[self.group_key])

    def groupId(self) -> str:
        return self.group_key

    def add_device_parameter(self) -> None:
        """The DEVICE enum every algorithm that computes offers."""
        self.addParameter(QgsProcessingParameterEnum(self.DEVICE, self.tr("Device"), options=DEVICES, defaultValue=0))

    def device_choice(self, parameters, context) -> str:
        """DEVICE as 'auto', 'cpu' or 'cuda'."""
        return DEVICES[self.parameterAsEnum(parameters, self.DEVICE, context)]

    def check_dependencies(self) -> None:
        """Raise a QgsProcessingException naming what to install when a module is missing."""
        missing = missing_modules(*self.requires)
        if missing:
            raise QgsProcessingException(missing_message(missing))

    def checkParameterValues(self, parameters, context):
        missing = missing_modules(*self.requires)
        if missing:
            return False, missing_message(missing)
        return super().checkParameterValues(parameters, context)


def _guarded(body):
    """Wrap a ``processAlgorithm``: the rules of docs/safety.md for every algorithm.

    Before: no output may be an input or another output (QgsProcessingException naming
    both). During: one :class:`engine.run_scope.RunScope` (temp folder, temp files, SIGTERM
    handler). Errors: a ValueError (our messages name the parameter) or an OSError (disk
    full, no permission) becomes a QgsProcessingException, a cancel a non-zero exit. After:
    every file output reported exists.
    """

    @functools.wraps(body)
    def processAlgorithm(self, parameters, context, feedback):
        if getattr(self, "_rsseg_in_run", False):  # a subclass calling super(): the outer call guards
            return body(self, parameters, context, feedback)
        from engine.progress import Cancelled
        from engine.run_scope import RunScope

        self._rsseg_in_run = True
        try:
            check_run_paths(self, parameters, context)
            with RunScope():
                try:
                    results = body(self, parameters, context, feedback)
                except Cancelled:
                    raise QgsProcessingException(self.tr("Cancelled: the run was stopped")) from None
                except ValueError as exc:
                    raise QgsProcessingException(str(exc)) from None
                except OSError as exc:
                    where = f"{exc.filename}: " if exc.filename else ""
                    raise QgsProcessingException(f"{where}{exc.strerror or exc}") from None
            if feedback is not None and feedback.isCanceled() and not _all_outputs_given(self, results):
                raise QgsProcessingException(self.tr("Cancelled: the run was stopped"))  # not exit 0 with nothing
            check_written_outputs(self, results)
            return results
        finally:
            self._rsseg_in_run = False

    processAlgorithm.rsseg_guarded = True
    return processAlgorithm


def _all_outputs_given(alg, results) -> bool:
    """Whether a run returned every mandatory destination (an algorithm that swallowed a cancel returns none)."""
    wanted = [d.name() for d in alg.parameterDefinitions()
              if d.isDestination() and not d.flags() & d.FlagOptional]
    return isinstance(results, dict) and all(results.get(name) for name in wanted)


def run_feedback(feedback: QgsProcessingFeedback | None):
    """A :class:`engine.progress.RunFeedback` that reports into QGIS's feedback object.

    Progress and log lines go to the Processing dialog / qgis_process output; cancellation
    is polled by the job itself (between tiles or training steps).
    """
    from engine.progress import RunFeedback

    if feedback is None:
        return RunFeedback()
    last = [0.0]

    def progress(percent: float) -> None:
        now = time.monotonic()
        if now - last[0] > 0.2 or percent >= 100:
            last[0] = now
            feedback.setProgress(percent)

    return RunFeedback(progress=progress, log=feedback.pushInfo, is_cancelled=feedback.isCanceled)


@contextlib.contextmanager
def engine_errors(cancelled: str) -> Iterator[None]:
    """Around an engine or training call: a cancel becomes ``cancelled`` (what that algorithm
    left behind, already translated), a ValueError (our messages name the parameter and the fix)
    a QgsProcessingException with its message; both without a traceback.

    The guard of :func:`_guarded` would catch them too, but with a generic cancel message:
    an algorithm says here what a cancel left (no output, no report, the state reached).
    """
    from engine.progress import Cancelled

    try:
        yield
    except Cancelled:
        raise QgsProcessingException(cancelled) from None
    except ValueError as exc:
        raise QgsProcessingException(str(exc)) from None


@contextlib.contextmanager
def scratch_folder(prefix: str) -> Iterator[str]:
    """A folder for one step's intermediate files, inside the run folder (engine.run_scope) and
    removed as soon as the step ends, not only with the run."""
    from engine.run_scope import run_temp_dir

    folder = tempfile.mkdtemp(prefix=prefix, dir=run_temp_dir())
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
