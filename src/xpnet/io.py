"""The model file format: a training state on disk, written atomically, read defensively.

A file is a ZIP archive of uncompressed ``.npy`` members (what :func:`numpy.savez` writes)
holding

* ``__xpnet__``: a JSON header (UTF-8 bytes as uint8): the format name and version, the
  architecture (``config``), the loss, the optimiser (class, config, step count, names of its
  state arrays), ``epochs_trained``, the mini-batch shuffle generator's state, the per-epoch
  history, the caller's ``metadata``, the parameter names and a SHA-256 digest of the header
  and of every array;
* ``param/W1``, ``param/b1``, ...: the parameters, in the model's dtype;
* ``opt/v_W1``, ...: the optimiser's state arrays (Momentum, RMSprop and Adam moments).

This module knows a :class:`TrainingState` (header + arrays), not a model: ``saving.py``
turns models into states and states into models. Reading validates before it allocates:
the ZIP directory is checked first (members known, uncompressed, inside the file), then the
header's size, then its schema, then every array's ``.npy`` header (dtype, shape against the
member's size), and only then is any array read. Every failure is a
:class:`~xpnet.errors.ModelFileError` that names the file and the field. Nothing is ever
unpickled. The digest detects damage and edits made without updating it; it is not a
signature against a deliberate forger (anyone can recompute it).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import secrets
import stat
import time
import zipfile
from dataclasses import dataclass, field

import numpy as np

from ._schema import DTYPES, FORMAT, FORMAT_VERSION, LIMITS, OPTIMIZERS, check_header, is_int
from .errors import ModelFileError, XpnetValueError

__all__ = ["TrainingState", "write_state", "read_state", "read_header", "BuildBudget", "FORMAT", "FORMAT_VERSION",
           "LIMITS"]

HEADER = "__xpnet__"
_DTYPES = {name: np.dtype(code) for name, code in DTYPES.items()}
_STARTED = time.time()  # temp files older than this process cannot be one of its saves in progress
try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, stale files are left alone
    fcntl = None


@dataclass
class TrainingState:
    """Everything a file holds: the JSON ``header`` and the arrays, by member name."""

    header: dict
    params: dict = field(default_factory=dict)  # "W1" -> ndarray
    opt_state: dict = field(default_factory=dict)  # "v_W1" -> ndarray
    path: str = ""

    def arrays(self) -> dict:
        out = {f"param/{k}": v for k, v in self.params.items()}
        out.update({f"opt/{k}": v for k, v in self.opt_state.items()})
        return out


def digest(header: dict, arrays: dict) -> str:
    """SHA-256 over the header (without its digest) and every array's name, dtype, shape, bytes."""
    h = hashlib.sha256()
    h.update(json.dumps(header, sort_keys=True).encode())
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


# -- writing ---------------------------------------------------------------------------------------
def _bad_target(path: str, why: str) -> XpnetValueError:
    return XpnetValueError(f"cannot save to {path!r}: {why}")


def _check_target(path) -> tuple[str, str]:
    if not isinstance(path, (str, os.PathLike)):
        raise XpnetValueError(f"the path to save to must be a str or PathLike, got {type(path).__name__}")
    path = os.fspath(path)
    if not isinstance(path, str):
        path = os.fsdecode(path)
    if not path:
        raise _bad_target(path, "the path is empty; give a file name like 'model.npz'")
    base = os.path.basename(path)
    if base in ("", ".", "..") or os.path.isdir(path):
        raise _bad_target(path, "it is a folder; give a file name inside it, like 'model.npz'")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        what = "is a file, not a folder" if os.path.exists(directory) else "does not exist"
        raise _bad_target(path, f"the directory {directory!r} {what}")
    return path, directory


def write_state(path, header: dict, arrays: dict) -> str:
    """Write ``header`` (its digest added) and ``arrays`` to ``path``, atomically.

    The archive goes to a temporary file in the same folder (created with the process's
    umask, locked while it is written), is flushed to disk and renamed over ``path``; an
    existing file keeps its permission bits. Temporary files left by killed saves of the
    same name are removed. Path problems raise :class:`~xpnet.errors.XpnetValueError`.
    """
    path, directory = _check_target(path)
    # C order on disk whatever the device's layout (a BLAS-friendly update can leave W transposed
    # in memory): the reader accepts C order only.
    arrays = {name: np.ascontiguousarray(value) for name, value in arrays.items()}
    header = dict(header, digest=digest(header, arrays))
    members = dict(arrays)
    members[HEADER] = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    base = os.path.basename(path)
    _remove_stale(directory, base)
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode) if os.path.exists(path) else None
        fd, tmp = _create_temp(directory, base)
    except OSError as exc:
        raise _bad_target(path, _why(exc, directory)) from None
    try:
        with os.fdopen(fd, "wb") as f:
            _lock(f.fileno())
            np.savez(f, **members)
            f.flush()
            os.fsync(f.fileno())
            if mode is not None:
                os.chmod(tmp, mode)
            os.replace(tmp, path)  # under the lock: a cleaner never takes a file being written
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise _bad_target(path, _why(exc, directory)) from None
        raise
    _fsync_dir(directory)
    return path


def _why(exc: OSError, directory: str) -> str:
    if isinstance(exc, PermissionError):
        return f"no permission to write in {directory!r}; choose a writable folder"
    return f"{exc.strerror or exc} (errno {exc.errno})"


def _temp_prefix(base: str) -> str:
    # A long final name must still leave room for the temporary name (255 bytes on most systems).
    return "." + base[:120] + "."


def _create_temp(directory: str, base: str):
    for _ in range(100):
        tmp = os.path.join(directory, _temp_prefix(base) + secrets.token_hex(6) + ".tmp")
        try:
            # 0o666 through the umask, as open() would create the file: saves respect the umask.
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name in {directory!r}")


def _lock(fd) -> None:
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX)


def _remove_stale(directory: str, base: str) -> None:
    """Delete temporary files of killed saves to this name: older than this process and unlocked."""
    if fcntl is None:
        return
    pattern = re.compile(re.escape(_temp_prefix(base)) + r"[A-Za-z0-9_]{6,32}\.tmp")
    try:
        names = [n for n in os.listdir(directory) if pattern.fullmatch(n)]
    except OSError:
        return
    for name in names:
        tmp = os.path.join(directory, name)
        try:
            fd = os.open(tmp, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            continue
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_mtime >= _STARTED:
                continue
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises while a writer holds it
            os.unlink(tmp)
        except OSError:
            continue
        finally:
            os.close(fd)


def _fsync_dir(directory):
    # Make the rename itself durable; not possible on every platform (e.g. Windows).
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# -- reading ---------------------------------------------------------------------------------------
def read_header(path) -> dict:
    """The checked JSON header of a saved model (architecture, optimiser, epochs, metadata).

    The whole file is validated (schema, array shapes, digest), as by ``xn.load``.
    """
    return read_state(path).header


def read_state(path) -> TrainingState:
    """The validated :class:`TrainingState` in ``path``; any problem is a ModelFileError."""
    if not isinstance(path, (str, os.PathLike)):
        raise ModelFileError(f"a model file path must be a str or PathLike, got {type(path).__name__}")
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ModelFileError(f"model file {path!r} does not exist")
    if not os.path.isfile(path):
        raise ModelFileError(f"model file {path!r} is not a file (a folder?)")
    try:
        with open(path, "rb") as fh:
            if fh.read(6) == b"\x93NUMPY":
                raise ModelFileError(f"{path!r} is a single .npy array, not an xpnet model (.npz)")
            fh.seek(0)
            if not zipfile.is_zipfile(fh):
                raise ModelFileError(
                    f"{path!r} is not a readable xpnet model file: not a ZIP (.npz) archive "
                    "(a CSV or another kind of file, or truncated?)"
                )
            fh.seek(0)
            size = os.fstat(fh.fileno()).st_size
            with zipfile.ZipFile(fh) as zf:
                return _read_archive(zf, path, size)
    except ModelFileError:
        raise
    except Exception as exc:  # zipfile, struct, numpy's header parser...: every one means a damaged file
        raise ModelFileError(f"{path!r} is not a readable xpnet model file (truncated or corrupted?): {exc}") from None


def _fail(path, field_name, why) -> ModelFileError:
    return ModelFileError(f"{path!r}: {field_name}: {why}")


def _read_archive(zf: zipfile.ZipFile, path: str, size: int) -> TrainingState:
    infos = zf.infolist()
    if len(infos) > LIMITS["members"]:
        raise _fail(path, "archive", f"{len(infos)} members (at most {LIMITS['members']})")
    by_name = {}
    for info in infos:
        name = info.filename
        if name in by_name:
            raise _fail(path, name, "appears twice in the archive")
        if info.compress_type != zipfile.ZIP_STORED or info.file_size != info.compress_size:
            raise _fail(path, name, "is compressed; xpnet writes members uncompressed (a compressed one could "
                                    "expand far beyond the file's size)")
        if info.header_offset + info.file_size > size:
            raise _fail(path, name, "declares more bytes than the file holds (truncated?)")
        by_name[name] = info
    header_member = HEADER + ".npy"
    if header_member not in by_name:
        raise ModelFileError(f"{path!r} is a .npz archive but not an xpnet model (no {HEADER!r} entry)")
    raw = _read_member(zf, by_name[header_member], path, HEADER, np.dtype("u1"), LIMITS["header_bytes"])
    if raw.tobytes().count(b'"class_name"') > 2 * LIMITS["layers"] + 1:
        # Refused before parsing: a header of 200,000 layers would cost ~10x its size as Python objects.
        raise _fail(path, "config.layers", f"must be a list of 1 to {LIMITS['layers']} layers (the header names more)")
    header = _parse_header(raw, path)
    check_header(header, path)
    expected = {f"param/{k}.npy": k for k in header["parameters"]}
    opt = header["optimizer"]
    expected_opt = {f"opt/{k}.npy": k for k in (opt["state"] if opt else [])}
    unknown = sorted(set(by_name) - set(expected) - set(expected_opt) - {header_member})
    if unknown:
        raise _fail(path, unknown[0], "is not declared by the header (parameters, optimizer.state)")
    missing = sorted((set(expected) | set(expected_opt)) - set(by_name))
    if missing:
        raise _fail(path, missing[0][:-4], "is declared by the header but missing from the archive")
    dtype = _DTYPES[header["config"]["dtype"]]
    shapes = {}
    for member, name in {**expected, **expected_opt}.items():
        shapes[member] = _npy_shape(zf, by_name[member], path, member[:-4], dtype)
    param_shapes = {expected[m]: s for m, s in shapes.items() if m in expected}
    for member, key in expected_opt.items():
        target = key.split("_", 1)[1] if "_" in key else None
        if target not in param_shapes:
            raise _fail(path, f"opt/{key}", f"names no parameter (expected v_<name> or s_<name> of {list(param_shapes)})")
        if shapes[member] != param_shapes[target]:
            raise _fail(path, f"opt/{key}", f"has shape {shapes[member]} but {target} has {param_shapes[target]}")
    if opt and opt["state"]:
        full = {f"{p}_{name}" for p in OPTIMIZERS[opt["class_name"]] for name in param_shapes}
        if set(opt["state"]) != full:
            raise _fail(path, "optimizer.state", f"{opt['class_name']} keeps exactly {sorted(full)}, "
                                                 f"the file lists {opt['state']}")
        if opt["iterations"] < 1:
            raise _fail(path, "optimizer.iterations", "must be >= 1 when the optimizer has state")
    params = {name: _read_member(zf, by_name[m], path, m[:-4], dtype) for m, name in expected.items()}
    opt_state = {name: _read_member(zf, by_name[m], path, m[:-4], dtype) for m, name in expected_opt.items()}
    state = TrainingState(header, params, opt_state, path)
    stored = header.pop("digest")
    if stored != digest(header, state.arrays()):
        raise ModelFileError(f"{path!r} failed its integrity check (SHA-256 digest mismatch): the file was altered")
    return state


def _npy_header(f, path, name):
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(f)
    if version in ((2, 0), (3, 0)):
        return np.lib.format.read_array_header_2_0(f)
    raise _fail(path, name, f"unsupported .npy version {version}")


def _npy_shape(zf, info, path, name, dtype) -> tuple:
    """The member's array shape from its .npy header, checked against dtype and member size."""
    with zf.open(info) as f:
        shape, fortran, stored = _npy_header(f, path, name)
        offset = f.tell()
    if stored != dtype:
        raise _fail(path, name, f"has dtype {stored}, expected {dtype} (the header's config.dtype)")
    if fortran:
        raise _fail(path, name, "is stored in Fortran order; xpnet writes C order")
    if len(shape) > 8 or any(n < 0 for n in shape):
        raise _fail(path, name, f"has an impossible shape {shape}")
    if math.prod(shape) * dtype.itemsize != info.file_size - offset:
        raise _fail(path, name, f"shape {shape} does not match the member's {info.file_size} bytes")
    return tuple(shape)


def _read_member(zf, info, path, name, dtype, limit=None):
    """Read one .npy member; its size is checked against ``limit`` and its header first."""
    if limit is not None and info.file_size > limit:
        raise _fail(path, name, f"is {info.file_size} bytes (at most {limit})")
    with zf.open(info) as f:
        shape, fortran, stored = _npy_header(f, path, name)
        if stored != dtype or fortran or len(shape) > 8:
            raise _fail(path, name, f"has dtype {stored} (expected {dtype}) or an unusable layout")
        nbytes = math.prod(shape) * dtype.itemsize
        if nbytes != info.file_size - f.tell():
            raise _fail(path, name, f"shape {shape} does not match the member's {info.file_size} bytes")
        buf = bytearray(nbytes)
        if f.readinto(buf) != nbytes or f.read(1):  # reading to the end checks the CRC
            raise _fail(path, name, "is truncated")
    return np.frombuffer(buf, dtype=dtype).reshape(shape)


def _parse_header(raw, path) -> dict:
    try:
        header = json.loads(raw.tobytes().decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ModelFileError(f"{path!r} has a damaged header: {exc}") from None
    if not isinstance(header, dict):
        raise ModelFileError(f"{path!r} has a damaged header: not a JSON object")
    if header.get("format") != FORMAT:
        raise ModelFileError(f"{path!r} is not an xpnet model file (format {header.get('format')!r})")
    version = header.get("version")
    if not is_int(version) or not 1 <= version <= FORMAT_VERSION:
        raise ModelFileError(
            f"{path!r} has format version {version!r}; this xpnet reads versions 1 to {FORMAT_VERSION}"
            + (": upgrade xpnet" if is_int(version) and version > FORMAT_VERSION else "")
        )
    return header


def _no_constant(name):
    raise ValueError(f"{name} is not a number a model file may hold")


# -- building an architecture from a file, bounded -------------------------------------------------
class BuildBudget:
    """Host elements an architecture from a file may create while its shapes are worked out.

    :attr:`rng` and :attr:`backend` stand in for the generator and backend a layer's ``build``
    receives: every draw and every array is charged before it exists, draws are zero-stride
    zeros (free: only shapes matter here) and arrays stay on the host, uncopied.
    """

    def __init__(self, elements: int, path: str):
        self.left, self.path = elements, path
        self.rng, self.backend = _BudgetRng(self), _BudgetBackend(self)

    def charge(self, n: int, what: str) -> None:
        self.left -= n
        if self.left < 0:
            raise ModelFileError(f"{self.path!r}: config: the architecture needs more values ({what}) "
                                 "than the file stores")


class _BudgetRng:
    def __init__(self, budget):
        self._budget = budget

    def spawn(self, n):
        return np.random.default_rng(0).spawn(n)

    def __getattr__(self, name):
        def draw(*args, size=None, **kwargs):
            if size is None:
                size = next((a for a in args if isinstance(a, (tuple, list))), None)
            if size is None and args and is_int(args[0]) and name in ("standard_normal", "random"):
                size = args[0]
            shape = () if size is None else (size,) if is_int(size) else tuple(size)
            self._budget.charge(math.prod(shape), name)
            return np.broadcast_to(np.float64(0.0), shape)

        return draw


class _BudgetBackend:
    def __init__(self, budget):
        self._budget = budget

    def __getattr__(self, name):
        from .backends import get_backend

        return getattr(get_backend("numpy"), name)

    def asarray(self, host_array, dtype=None):
        n = getattr(host_array, "size", None)
        if n is None and isinstance(host_array, (list, tuple)):
            n = len(host_array) * (len(host_array[0]) if host_array and isinstance(host_array[0], (list, tuple)) else 1)
        self._budget.charge(int(n or 1), "asarray")
        return np.asarray(host_array)
