"""One run, one temp folder: whatever a run leaves behind is removed on every way out.

A :class:`RunScope` wraps one algorithm run (the plugin's base class and the training CLI
enter one). It owns

* a private temp folder (:func:`run_temp_dir`) for intermediate files (rasterized polygon
  labels, a cluster model made on the way), removed when the run ends;
* a registry of the hidden temporary files that atomic writes create *beside* their
  targets (they must live there: a rename is only atomic within one file system);
* handlers for SIGTERM and SIGHUP: a killed run removes both, says so on stderr and
  exits with 128 + the signal number, like a shell reports a signal death.

Why exit from the handler instead of raising: the exception would have to travel through
QGIS's C++ (where a SystemExit or KeyboardInterrupt is printed or ends the process at a
place nobody chose) and through worker threads. Everything a run must not leave behind is
registered here, so cleaning it needs no unwinding. Finished files are never touched: they
were renamed into place whole, so a kill keeps the last complete checkpoint.

Outside any scope (engine used as a library), :func:`run_temp_dir` makes a folder removed
at interpreter exit, and registering temp files is a no-op.
"""
from __future__ import annotations

import atexit
import os
import shutil
import signal
import sys
import tempfile
import threading

TERMINATING_SIGNALS = tuple(s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s)
TEMP_PREFIX = "rsseg_run_"

_lock = threading.RLock()
_scopes: list[RunScope] = []
_previous_handlers: dict[int, object] = {}
_orphans: list[str] = []   # folders made outside any scope, removed at exit


class RunScope:
    """Context manager: one temp folder and the stray temp files of one run, removed at exit."""

    def __init__(self) -> None:
        self.folder: str | None = None
        self.temp_files: set[str] = set()

    def __enter__(self) -> RunScope:
        with _lock:
            if not _scopes:
                _install_handlers()
            _scopes.append(self)
        return self

    def __exit__(self, *exc_info) -> None:
        try:
            self.clean()
        finally:
            with _lock:
                if self in _scopes:
                    _scopes.remove(self)
                if not _scopes:
                    _restore_handlers()

    def temp_dir(self) -> str:
        """This run's private folder, made on first use."""
        with _lock:
            if self.folder is None:
                self.folder = tempfile.mkdtemp(prefix=TEMP_PREFIX)
            return self.folder

    def clean(self) -> None:
        """Delete the temp folder and every registered temp file (safe to call twice)."""
        with _lock:
            files, self.temp_files = list(self.temp_files), set()
            folder, self.folder = self.folder, None
        for path in files:
            if os.path.isdir(path):  # a temp folder beside an output (int8/fp16 exports)
                shutil.rmtree(path, ignore_errors=True)
                continue
            _remove(path)
            _remove(path + ".aux.xml")  # GDAL may have written statistics beside a temp raster
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)


def current_scope() -> RunScope | None:
    """The innermost active run, or None outside any."""
    with _lock:
        return _scopes[-1] if _scopes else None


def run_temp_dir() -> str:
    """Folder for this run's intermediate files; removed when the run ends (or at exit)."""
    scope = current_scope()
    if scope is not None:
        return scope.temp_dir()
    folder = tempfile.mkdtemp(prefix=TEMP_PREFIX)
    with _lock:
        if not _orphans:
            atexit.register(_remove_orphans)
        _orphans.append(folder)
    return folder


def register_temp(path: str) -> None:
    """A temp file (or folder) beside a target, to delete if the run dies before it is renamed."""
    with _lock:
        for scope in _scopes:
            scope.temp_files.add(os.path.abspath(path))


def unregister_temp(path: str) -> None:
    """The temp file was renamed into place or removed: no longer ours to delete."""
    with _lock:
        for scope in _scopes:
            scope.temp_files.discard(os.path.abspath(path))


def clean_all() -> None:
    """Clean every active scope (the signal handler's work)."""
    with _lock:
        scopes = list(_scopes)
    for scope in scopes:
        scope.clean()


def _on_signal(signum, frame) -> None:
    clean_all()
    name = signal.Signals(signum).name
    print(f"rsseg: stopped by {name}; temporary files removed, finished files kept", file=sys.stderr, flush=True)
    os._exit(128 + signum)


def _install_handlers() -> None:
    if threading.current_thread() is not threading.main_thread():
        return  # QGIS Desktop runs algorithms in task threads; signals are not ours to take there
    for signum in TERMINATING_SIGNALS:
        try:
            _previous_handlers[signum] = signal.signal(signum, _on_signal)
        except (ValueError, OSError):  # embedded interpreters may refuse
            pass


def _restore_handlers() -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    for signum, handler in list(_previous_handlers.items()):
        try:
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        except (ValueError, OSError, TypeError):
            pass
        _previous_handlers.pop(signum, None)


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
    except OSError:  # still open on Windows, or a folder: leave it rather than fail the cleanup
        pass


def _remove_orphans() -> None:
    for folder in _orphans:
        shutil.rmtree(folder, ignore_errors=True)
