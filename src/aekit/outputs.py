"""One output policy for everything aekit writes, and the lock of a run folder in use.

Nothing a user owns is overwritten: :func:`check_output` refuses an output path that is
an input file, lies inside an input folder (data folder, model, run or detector folder
being read), already exists without ``force`` (``--force`` on the command line), or has
a suffix that does not match the format written. :class:`RunLock` marks a run folder as
in use, so a second process writing into it fails at once instead of mixing two runs.
:func:`run_lock` takes it unless this process already holds it (the Trainer locks its
``run_dir`` this way, so a bare ``Trainer(run_dir=...).fit`` is locked too).
:func:`atomic_path` is the one way a file is written atomically (``aekit.io`` re-exports
it for the model writers; the chunk writer of ``aekit.data.chunks`` uses it too).
"""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

from aekit.errors import ConfigError

LOCK_FILE = ".aekit.lock"
_HELD: set[Path] = set()  # folders whose lock a RunLock of this process holds


def umask_mode() -> int:
    """The mode a new file gets under the process umask (0o644 under umask 022)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; renamed over ``path`` on success.

    The block writes the file (by any means: ``open``, a safetensors or CSV writer); on
    leaving it the file is fsynced and renamed over ``path``, so readers see the old or
    the new file, never half of one. If the block raises, the temporary file is removed
    and ``path`` is left as it was. Parent folders are created; the file gets the
    permissions a plain ``open`` would give it (the umask applies).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, umask_mode())  # some writers (safetensors) create their own file
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _resolved(path: str | Path) -> Path:
    return Path(path).expanduser().resolve()


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_output(
    out: str | Path,
    *,
    option: str = "--out",
    inputs: Iterable[str | Path] = (),
    suffixes: Iterable[str] | None = None,
    force: bool = False,
    folder: bool = False,
    owned: Iterable[str] | None = None,
) -> Path:
    """``Path(out)`` when writing there is allowed; a :class:`ConfigError` otherwise.

    Parameters
    ----------
    out : path
        The file (or, with ``folder=True``, the folder) about to be written.
    option : str
        How the user named it (``--out``, ``--report``), for the message.
    inputs : paths
        Everything the command reads: data files and folders, model / run / detector
        folders. The output may be none of them and lie inside none of them. Names that
        are not paths (a built-in data set such as ``digits``) are ignored.
    suffixes : str, optional
        Allowed suffixes (``.png``); the output's suffix must be one of them.
    force : bool
        Replace an existing file (``--force``); inputs are never replaced.
    folder : bool
        ``out`` is a folder the command fills: it may exist, but not as a file, and
        without ``force`` it may not yet hold any of the ``owned`` names.
    owned : str, optional
        With ``folder=True``: the names the command writes inside the folder; None means
        the folder must be empty (or not exist) unless ``force``.
    """
    path = Path(out)
    target = _resolved(path)
    for given in inputs:
        source = Path(given)
        if not source.exists():
            continue
        src = _resolved(source)
        if src == target or (path.exists() and source.exists() and path.samefile(source)):
            raise ConfigError(f"{option} {path} is the input {source}; aekit never "
                              "overwrites its input: choose another path")
        if source.is_dir() and _inside(target, src):
            raise ConfigError(f"{option} {path} is inside {source}, which this command "
                              "reads; choose a path outside it")
        if folder and _inside(src, target):
            raise ConfigError(f"{option} {path} holds the input {source}; choose another "
                              "folder")
    if suffixes is not None:
        allowed = tuple(s.lower() for s in suffixes)
        if path.suffix.lower() not in allowed:
            raise ConfigError(f"{option} {path}: the output is written as "
                              f"{' or '.join(allowed)}; give a file name ending in "
                              f"{allowed[0]}")
    if folder:
        if path.exists() and not path.is_dir():
            raise ConfigError(f"{option} {path} is a file; this command writes a folder")
        if owned is None:
            owned = [p.name for p in path.iterdir()] if path.is_dir() else []
        taken = sorted(n for n in owned if (path / n).exists())
        if taken and not force:
            shown = ", ".join(taken[:5]) + (f" and {len(taken) - 5} more" if len(taken) > 5
                                            else "")
            raise ConfigError(f"{option} {path} already holds {shown}; choose a new folder, "
                              "or pass --force to replace them")
        return path
    if path.is_dir():
        raise ConfigError(f"{option} {path} is a folder; give a file name")
    if path.exists() and not force:
        raise ConfigError(f"{option} {path} already exists; pass --force to replace it")
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    return True


class RunLock:
    """Holds ``folder/.aekit.lock`` while a process writes the folder.

    The lock file is created exclusively and names the process (pid and host). A lock
    left by a process that no longer runs on this host (killed) is taken over; a live
    one raises a :class:`ConfigError`.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d, RunLock(d):
    ...     pass
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_FILE
        self._held = False

    def _owner(self) -> tuple[int, str] | None:
        try:
            pid, _, host = self.path.read_text(encoding="utf-8").strip().partition(" ")
            return int(pid), host
        except (OSError, ValueError):
            return None

    def acquire(self) -> RunLock:
        """Take the lock, or raise ConfigError naming the process that holds it."""
        self.folder.mkdir(parents=True, exist_ok=True)
        me = f"{os.getpid()} {socket.gethostname()}"
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            except FileExistsError:
                owner = self._owner()
                if owner is not None and owner[1] == socket.gethostname() and \
                        not _alive(owner[0]):
                    self.path.unlink(missing_ok=True)  # left by a killed process
                    continue
                who = f"process {owner[0]} on {owner[1]}" if owner else "another process"
                raise ConfigError(
                    f"{self.folder} is in use by {who} (lock file {self.path}); wait for "
                    "it to finish, or delete the lock file if that process is gone"
                ) from None
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(me)
            self._held = True
            _HELD.add(_resolved(self.folder))
            return self
        raise ConfigError(f"{self.folder}: could not take the lock file {self.path}")

    def release(self) -> None:
        """Remove the lock file if this object holds it."""
        if self._held:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            self._held = False
            _HELD.discard(_resolved(self.folder))

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


@contextlib.contextmanager
def run_lock(folder: str | Path) -> Iterator[None]:
    """Hold ``folder``'s :class:`RunLock` for the block, unless this process already holds
    it (an outer caller, e.g. :func:`aekit.runs.train_run` around the Trainer): then the
    outer lock stays in force and is not taken twice."""
    if _resolved(folder) in _HELD:
        yield
        return
    with RunLock(folder):
        yield
