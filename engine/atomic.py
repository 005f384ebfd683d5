"""Atomic file writes: a file appears under its name complete, or not at all.

Every file rsseg writes (class maps, reports, PNGs, checkpoints, ONNX models) goes
through here: the content is written to a hidden temp file in the target's folder (a
rename is only atomic within one file system), flushed to disk with ``fsync``, then
renamed over the target, and the folder is synced so the rename itself survives a power
cut. An error, a cancel or a SIGTERM (see :mod:`engine.run_scope`, where the temp file is
registered) removes the temp file; the previous file under that name stays intact until
the new one is complete.
"""
from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path
from typing import Callable, Iterator

from .run_scope import register_temp, unregister_temp


def temp_path_for(path: str | os.PathLike) -> str:
    """A hidden, unique sibling of ``path``: ``.<name>.<random>.tmp`` in the same folder."""
    folder, name = os.path.split(os.path.abspath(os.fspath(path)))
    return os.path.join(folder, f".{name}.{uuid.uuid4().hex[:8]}.tmp")


def fsync_file(path: str | os.PathLike) -> None:
    """Flush a closed file's data to disk (opened for writing: Windows' fsync needs it)."""
    fd = os.open(os.fspath(path), os.O_RDWR | getattr(os, "O_BINARY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder: str) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # Windows cannot open folders; its rename is durable enough
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def commit(tmp: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Sync ``tmp`` and rename it over ``target`` (the last step of every atomic write)."""
    tmp, target = os.fspath(tmp), os.fspath(target)
    fsync_file(tmp)
    os.replace(tmp, target)
    unregister_temp(tmp)
    _fsync_folder(os.path.dirname(os.path.abspath(target)) or ".")
    return Path(target)


def discard(tmp: str | os.PathLike) -> None:
    """Remove a temp file that will not be committed (missing is fine)."""
    tmp = os.fspath(tmp)
    with contextlib.suppress(FileNotFoundError):
        os.remove(tmp)
    unregister_temp(tmp)


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[str]:
    """Yield a temp path to write ``target`` through; committed when the block succeeds.

    For writers that want a file name (torch.save, onnx.save, GDAL). The folder is made
    if missing. Any exception (Cancelled, KeyboardInterrupt included) discards the temp file.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path_for(target)
    register_temp(tmp)
    try:
        yield tmp
        commit(tmp, target)
    except BaseException:
        discard(tmp)
        raise


def atomic_write_bytes(target: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``target`` atomically."""
    with atomic_path(target) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(data)
    return Path(target)


def atomic_write_text(target: str | os.PathLike, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``target`` atomically (newlines as given)."""
    return atomic_write_bytes(target, text.encode(encoding))


def atomic_write_with(target: str | os.PathLike, write: Callable[[str], object]) -> Path:
    """Call ``write(temp_path)`` and commit the result to ``target`` atomically."""
    with atomic_path(target) as tmp:
        write(tmp)
    return Path(target)
