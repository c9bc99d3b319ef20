"""Where a directory of parts lives: a local path, or an fsspec URL (``file://``, ``s3://``).

A store is a small, picklable value (it travels to worker processes and cluster tasks) that
does the few things a job does to its output directory: list it, write a file, rename one
(the temporary name of a part to its final one), read and delete.

- :class:`LocalStore`, a path: files are synced to disk (fsync) before a rename, and the
  directory after it; a rename on one file system is atomic.
- :class:`FsspecStore`, a URL (extra ``dask``, which brings fsspec): the same steps through
  the URL's fsspec file system. With ``file://`` they are the local steps (fsync included).
  On an object store (``s3://``, ``gs://``, ``abfs://``), a file appears whole when its
  upload ends, and a rename is a copy then a delete: a part under its final name is still
  always whole, but the rename is not atomic (a reader listing during it may see both
  names, and a crash between the copy and the delete leaves the temporary name behind,
  deleted on resume). Only ``file://`` is tested here (no object store was at hand).
"""

from __future__ import annotations

import contextlib
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, Any, Final

from ._errors import JobSetupError

#: fsspec schemes whose files exist only in the process that wrote them.
_PER_PROCESS = ("memory",)


def is_url(output: str) -> bool:
    return "://" in output


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


#: Bytes written to a part between two background syncs of it (see :class:`EarlyWriteback`).
WRITEBACK_BYTES: Final = 16 << 20
_datasync: Final = getattr(os, "fdatasync", os.fsync)  # macOS has no fdatasync
_syncers: ThreadPoolExecutor | None = None
_syncers_lock: Final = threading.Lock()


def _syncer() -> ThreadPoolExecutor:
    global _syncers
    with _syncers_lock:
        if _syncers is None:
            _syncers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="adgate-async-sync")
        return _syncers


class EarlyWriteback:
    """Syncs a part to disk on a thread while it is written (told of its growth by
    :meth:`wrote`: each JSON line, or each Parquet row group), each time another
    :data:`WRITEBACK_BYTES` went in (one sync in flight at most), so that the fsync before
    its rename has at most that much left to write. Without it the kernel holds up to a
    tenth of the memory dirty, and the part's final fsync (on the critical path at the end
    of a job) wrote it all: about 0.15 s for a 100 MB part here, against 0.01 s with it.
    A file without a descriptor of this machine (an upload buffer) is left alone. An error
    of a background sync is raised by :meth:`wait`, before the part is sealed."""

    __slots__ = ("_fd", "_fh", "_pending", "_since")

    def __init__(self, fh: IO[bytes]) -> None:
        self._fh = fh
        try:
            self._fd: int | None = fh.fileno()
        except (OSError, ValueError, AttributeError):
            self._fd = None
        self._since = 0
        self._pending: Future[None] | None = None

    def wrote(self, size: int) -> None:
        """``size`` more bytes went into the file."""
        self._since += size
        if (self._since >= WRITEBACK_BYTES and self._fd is not None
                and (self._pending is None or self._pending.done())):
            self.wait()  # a finished sync's error, if any, is raised now
            self._fh.flush()
            self._since = 0
            self._pending = _syncer().submit(_datasync, self._fd)

    def wait(self) -> None:
        """Wait for the sync in flight (before the file is closed or sealed)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()


def _sync(fh: IO[bytes]) -> None:
    """Flush ``fh`` and, when it is a file of this machine, fsync it."""
    fh.flush()
    try:
        fd = fh.fileno()
    except (OSError, ValueError, AttributeError):  # an upload buffer: no descriptor
        return
    os.fsync(fd)


class LocalStore:
    """A directory of this machine's file system (or a shared one, such as NFS)."""

    def __init__(self, root: str) -> None:
        self.root = root

    def __repr__(self) -> str:
        return self.root

    def path(self, name: str) -> str:
        return os.path.join(self.root, name)

    def makedirs(self) -> None:
        os.makedirs(self.root, exist_ok=True)

    def listdir(self) -> list[str]:
        return os.listdir(self.root)

    def exists(self, name: str) -> bool:
        return os.path.exists(self.path(name))

    def read_text(self, name: str) -> str:
        with open(self.path(name), encoding="utf-8") as fh:
            return fh.read()

    def open_write(self, name: str) -> IO[bytes]:
        return open(self.path(name), "wb")

    def finish(self, fh: IO[bytes]) -> None:
        """Make a file written through ``open_write`` durable, and close it."""
        try:
            _sync(fh)
        finally:
            fh.close()

    def write_text(self, name: str, text: str) -> None:
        """Write a small file in one go, durably (``_SUCCESS``, ``_job.json``)."""
        fh = self.open_write(name)
        try:
            fh.write(text.encode("utf-8"))
        finally:
            self.finish(fh)
        self._sync_dir()

    def rename(self, old: str, new: str) -> None:
        os.replace(self.path(old), self.path(new))
        self._sync_dir()

    def remove(self, name: str) -> None:
        """Delete ``name``; nothing when it is not there."""
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.path(name))

    def _sync_dir(self) -> None:
        fsync_dir(self.root)


class FsspecStore(LocalStore):
    """A directory named by an fsspec URL. Picklable: the URL travels, and the file system
    is made again where it is used (fsspec caches one instance per process)."""

    def __init__(self, url: str) -> None:
        try:
            import fsspec  # type: ignore[import-untyped]
        except ImportError:
            raise JobSetupError(f"an output URL ({url.split('://')[0]}://) needs fsspec: "
                                "pip install 'adgate_async[dask]'") from None
        try:
            fs, root = fsspec.core.url_to_fs(url)
        except (ImportError, ValueError) as exc:  # no such scheme, or its package missing
            raise JobSetupError(f"cannot use the output {url}: {exc}") from None
        super().__init__(root.rstrip("/") or "/")
        self.url = url
        self.fs: Any = fs
        self.local = "file" in _protocols(fs) or "local" in _protocols(fs)

    def __reduce__(self) -> tuple[Any, ...]:
        return (FsspecStore, (self.url,))

    def __repr__(self) -> str:
        return self.url

    def path(self, name: str) -> str:
        return f"{self.root}/{name}"

    def makedirs(self) -> None:
        self.fs.makedirs(self.root, exist_ok=True)

    def listdir(self) -> list[str]:
        self.fs.invalidate_cache(self.root)  # another process may have written since
        try:
            found = self.fs.ls(self.root, detail=False)
        except FileNotFoundError:
            return []
        return [p.rstrip("/").rsplit("/", 1)[-1] for p in found]

    def exists(self, name: str) -> bool:
        return bool(self.fs.exists(self.path(name)))

    def read_text(self, name: str) -> str:
        return str(self.fs.cat_file(self.path(name)).decode("utf-8"))

    def open_write(self, name: str) -> IO[bytes]:
        fh: IO[bytes] = self.fs.open(self.path(name), "wb")
        return fh

    def rename(self, old: str, new: str) -> None:
        self.fs.mv(self.path(old), self.path(new))
        self._sync_dir()

    def remove(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(self.path(name))

    def _sync_dir(self) -> None:
        if self.local:
            fsync_dir(self.root)


def _protocols(fs: Any) -> tuple[str, ...]:
    protocol = fs.protocol
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)


def store_for(output: str) -> LocalStore:
    """The store of a directory of parts named by a path or a URL."""
    return FsspecStore(output) if is_url(output) else LocalStore(output)


def check_url_for_workers(output: str) -> None:
    """Refuse a URL whose files other processes cannot see (``memory://``)."""
    scheme = output.split("://", 1)[0].lower()
    if is_url(output) and scheme in _PER_PROCESS:
        raise JobSetupError(f"{scheme}:// holds its files in one process only: worker "
                            "processes and cluster tasks cannot write there; use file://, "
                            "a shared path, or an object store URL")
