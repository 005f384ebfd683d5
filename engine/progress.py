"""Progress, logging and cancellation shared by the engine, training and the plugin.

Long jobs (segmentation, training) take a :class:`RunFeedback` instead of a QGIS object,
so they run unchanged from QGIS, the command line and tests. The plugin bridges
``QgsProcessingFeedback`` into one of these; scripts use the default, which prints.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Callable


class Cancelled(Exception):
    """Raised inside a job when the user asked to stop; callers clean up and re-raise."""


def _print_log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class RunFeedback:
    """Callbacks a long job reports through.

    ``progress`` takes a percentage in [0, 100]; ``is_cancelled`` is polled by the job at
    least once a second (between tiles, between training steps).
    """

    progress: Callable[[float], None] = field(default=lambda percent: None)
    log: Callable[[str], None] = field(default=_print_log)
    is_cancelled: Callable[[], bool] = field(default=lambda: False)

    def check_cancelled(self) -> None:
        """Raise :class:`Cancelled` if the user asked to stop."""
        if self.is_cancelled():
            raise Cancelled("cancelled by the user")

    def set_progress(self, fraction: float) -> None:
        """Report progress as a fraction in [0, 1] (clamped)."""
        self.progress(100.0 * min(1.0, max(0.0, fraction)))
