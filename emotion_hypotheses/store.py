"""On-disk run store that keeps MusicGen captures between test runs and pytest-xdist workers.

The module offers:

- ``entry_key``: the sha256 key of everything that changes a capture (model, prompt, seed, ...).
- ``RunStore``: a directory of entries, one per key, written atomically, verified by checksum on
  read, with a per-entry inter-process lock so that each sample is generated once.
- ``Entry``: one stored capture, that is named numpy arrays, a metadata dict and extra files such
  as a WAV.
- ``CorruptEntryWarning``: the warning for an entry that failed verification and is removed.

Layout under the store root::

    entries/<key[:2]>/<key>/arrays.npz      named arrays (numpy .npz format, loaded without pickle)
    entries/<key[:2]>/<key>/meta.json       metadata dict
    entries/<key[:2]>/<key>/<name>          extra files, for example a WAV
    entries/<key[:2]>/<key>/manifest.json   format version, sha256 and size of each file, array dtypes
    tmp/                                    entries being written and removed entries being deleted
    locks/<key>.lock                        per-entry inter-process lock files

``put`` writes an entry into ``tmp/``, fsyncs it, writes ``manifest.json`` last and renames the
directory into ``entries/``. A reader therefore sees a complete entry or none. An entry directory
without ``manifest.json`` is incomplete and treated as absent.

Locks are ``filelock.FileLock`` objects created with ``is_singleton=True``, so all ``RunStore``
objects of one process share one lock object per key. With filelock 4.3 on Linux (``fcntl.flock``),
checked in tests/test_store.py, that object is re-entrant in the thread that holds it: a thread
that claimed a key with ``try_lock`` can call ``get_or_create`` for it. Other threads and other
processes cannot acquire it until the holder has released it as often as it acquired it. The
kernel drops a flock when its process exits, so a killed process leaves no held lock. On a
filesystem without flock support, filelock falls back to a lock file whose existence is the lock,
and a killed process can leave that file behind.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import logging
import math
import os
import re
import secrets
import shutil
import time
import warnings
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import filelock
import numpy as np
import numpy.typing as npt

from emotion_hypotheses.errors import CorruptEntryError, StoreError

__all__ = [
    "FORMAT_VERSION",
    "CorruptEntryWarning",
    "Entry",
    "RunStore",
    "entry_key",
]

logger = logging.getLogger("emotion_hypotheses.store")

FORMAT_VERSION: int = 1
"""Version of the capture format. It is part of every key, so raising it invalidates all entries."""

ARRAYS_FILE = "arrays.npz"
META_FILE = "meta.json"
MANIFEST_FILE = "manifest.json"
RESERVED_FILE_NAMES = frozenset({ARRAYS_FILE, META_FILE, MANIFEST_FILE})

STALE_TEMP_SECONDS = 3600.0
"""Age after which a write directory under ``tmp/`` counts as left behind by a killed process."""

SUPPORTED_FLOAT_DTYPES = (np.dtype(np.float16), np.dtype(np.float32))

# Candidate storage types for float arrays, narrowest first.
_FLOAT_WIDTHS = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))

_KEY_PATTERN = re.compile(r"[0-9a-f]{64}")

_HASH_CHUNK_BYTES = 1 << 20

# Keys that this process has regenerated with refresh=True, as (resolved store root, key) pairs.
_REFRESHED: set[tuple[str, str]] = set()

if hasattr(os, "register_at_fork"):
    # A forked child is a new process, so it starts with its own record of refreshed keys.
    os.register_at_fork(after_in_child=_REFRESHED.clear)


class CorruptEntryWarning(UserWarning):
    """Warning for a stored entry that failed verification and is removed so it can be regenerated."""


# ---------------------------------------------------------------------------------------------
# Keys


def entry_key(fields: Mapping[str, Any]) -> str:
    """Return the sha256 hex key of ``fields`` and ``FORMAT_VERSION``.

    ``fields`` contains everything that changes a capture: model id and revision (or a weights
    hash), prompt, seed, generation parameters and capture spec. The key is computed over
    canonical JSON (sorted keys, no whitespace, floats by ``repr``), so dict order does not
    matter. A tuple gives the same key as the equal list, but ``1``, ``1.0`` and ``True`` give
    three different keys.

    Raises StoreError naming the field whose value JSON cannot represent exactly: a value that
    is not None, bool, int, float, str, list, tuple or dict, a non-str dict key, or NaN/infinity.
    """
    if not isinstance(fields, Mapping):
        raise StoreError(
            f"entry_key expects a mapping of fields, got {type(fields).__name__}: "
            "pass a dict such as {'model': ..., 'prompt': ..., 'seed': ...}"
        )
    if not fields:
        raise StoreError(
            "entry_key got no fields, so every sample would share one key: "
            "pass at least the model id, prompt and seed"
        )

    problem = _find_json_problem(fields, "")
    if problem is not None:
        field, reason = problem
        raise StoreError(f"entry_key field {field} {reason}")

    payload = {"fields": fields, "format_version": FORMAT_VERSION}
    # json writes floats with float.__repr__, the shortest string that round-trips.
    canonical = json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _find_json_problem(value: Any, path: str) -> tuple[str, str] | None:
    """Return (path, reason) for the first value in ``value`` that JSON cannot represent exactly."""
    if value is None or isinstance(value, (bool, int, str)):
        return None

    if isinstance(value, float):
        if math.isfinite(value):
            return None
        return path or "value", f"is {value!r}, which JSON cannot store: use None or a finite number"

    if isinstance(value, Mapping):
        for name, item in value.items():
            if not isinstance(name, str):
                return (
                    f"{path}[{name!r}]" if path else repr(name),
                    f"has a {type(name).__name__} key; use str keys so the JSON form is unambiguous",
                )
            problem = _find_json_problem(item, f"{path}[{name!r}]" if path else repr(name))
            if problem is not None:
                return problem
        return None

    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            problem = _find_json_problem(item, f"{path}[{index}]")
            if problem is not None:
                return problem
        return None

    type_name = f"{type(value).__module__}.{type(value).__qualname__}"
    return (
        path or "value",
        f"has type {type_name}, which is not JSON-able: convert it to a plain Python value "
        "(for a numpy scalar use .item(), for an array use .tolist())",
    )


def _check_key(key: str) -> None:
    if not isinstance(key, str) or _KEY_PATTERN.fullmatch(key) is None:
        raise StoreError(
            f"invalid run store key {key!r}: expected 64 lowercase hex digits as returned by entry_key()"
        )


# ---------------------------------------------------------------------------------------------
# Input checks and array conversion


def _prepare_arrays(
    key: str,
    arrays: Mapping[str, np.ndarray],
    float_dtype: np.dtype,
    keep_precision: Iterable[str],
) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
    """Convert arrays to their storage dtypes and return them with their manifest records."""
    if not isinstance(arrays, Mapping):
        raise StoreError(
            f"arrays for entry {key} must be a mapping of name to numpy array, got {type(arrays).__name__}"
        )

    keep = set(keep_precision)
    unknown = sorted(keep - set(arrays))
    if unknown:
        raise StoreError(
            f"keep_precision names {unknown} are not arrays of entry {key}; "
            f"available arrays: {sorted(arrays)}. Fix the names or drop them from keep_precision"
        )

    stored: dict[str, np.ndarray] = {}
    records: dict[str, dict[str, Any]] = {}
    for name, value in arrays.items():
        if not isinstance(name, str) or not name or "\x00" in name:
            raise StoreError(f"invalid array name {name!r} in entry {key}: use a non-empty str without NUL")

        array = np.asarray(value)
        if array.dtype.kind in ("O", "V"):
            raise StoreError(
                f"array {name!r} of entry {key} has dtype {array.dtype}, which the store does not save "
                "(object and structured arrays need pickle): convert it to a numeric array"
            )

        converted, reason = _to_storage_dtype(array, name in keep, float_dtype)
        if reason == "overflow":
            logger.info(
                "array %r of entry %s has finite values beyond %s range; storing it as %s",
                name, key, float_dtype.name, converted.dtype.name,
            )
        stored[name] = converted
        records[name] = {
            "original_dtype": array.dtype.str,
            "stored_dtype": converted.dtype.str,
            "shape": list(array.shape),
            "storage": reason,
        }
    return stored, records


def _to_storage_dtype(array: np.ndarray, keep: bool, float_dtype: np.dtype) -> tuple[np.ndarray, str]:
    """Return the array to store and the reason for its dtype, which is one of:

    - ``not_float``: integer, bool, complex and str arrays keep their dtype.
    - ``keep_precision``: the array is named in keep_precision and keeps its dtype.
    - ``not_narrower``: the array is no wider than ``float_dtype``.
    - ``float_dtype``: converted to ``float_dtype``.
    - ``overflow``: finite values lie beyond ``float_dtype``'s range, so the array has the
      narrowest wider float type that can represent them, or its original dtype.
    """
    original = array.dtype
    if original.kind != "f":
        return array, "not_float"
    if keep:
        return array, "keep_precision"
    if original.itemsize <= float_dtype.itemsize:
        return array, "not_narrower"

    finite = np.isfinite(array)
    for candidate in _FLOAT_WIDTHS:
        if candidate.itemsize < float_dtype.itemsize or candidate.itemsize >= original.itemsize:
            continue
        # Overflow to infinity is expected here and detected below, so numpy need not warn about it.
        with np.errstate(over="ignore"):
            converted = array.astype(candidate)
        # A finite value that becomes infinite did not fit, and values that already were infinite stay so.
        if not np.any(np.isinf(converted) & finite):
            return converted, "float_dtype" if candidate == float_dtype else "overflow"
    return array, "overflow"


def _prepare_meta(key: str, meta: Mapping[str, Any]) -> bytes:
    if not isinstance(meta, Mapping):
        raise StoreError(f"meta for entry {key} must be a mapping, got {type(meta).__name__}")

    problem = _find_json_problem(meta, "")
    if problem is not None:
        field, reason = problem
        raise StoreError(f"meta field {field} of entry {key} {reason}")

    text = json.dumps(meta, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
    return text.encode("utf-8")


def _prepare_files(key: str, files: Mapping[str, bytes] | None) -> dict[str, bytes]:
    if files is None:
        return {}
    if not isinstance(files, Mapping):
        raise StoreError(f"files for entry {key} must be a mapping of file name to bytes, got {type(files).__name__}")

    prepared: dict[str, bytes] = {}
    for name, data in files.items():
        valid_name = (
            isinstance(name, str)
            and name not in ("", ".", "..")
            and "/" not in name
            and "\\" not in name
            and "\x00" not in name
            and not name.startswith(".")
        )
        if not valid_name:
            raise StoreError(
                f"invalid file name {name!r} for entry {key}: use a plain file name such as 'audio.wav', "
                "without path separators or a leading dot"
            )
        if name in RESERVED_FILE_NAMES:
            raise StoreError(
                f"file name {name!r} for entry {key} is reserved by the store; "
                f"rename it (reserved: {sorted(RESERVED_FILE_NAMES)})"
            )
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise StoreError(
                f"file {name!r} of entry {key} must be bytes, got {type(data).__name__}: "
                "pass the file content, for example Path(...).read_bytes()"
            )
        prepared[name] = bytes(data)
    return prepared


# ---------------------------------------------------------------------------------------------
# File helpers


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "xb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _write_npz(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Write ``arrays`` in the .npz format that ``np.load`` reads, then fsync the file.

    This writes the zip members with ``np.lib.format.write_array`` as ``np.savez`` does, because
    ``np.savez(file, **arrays)`` fails for arrays named ``file`` or ``allow_pickle``.
    """
    with open(path, "xb") as handle:
        with zipfile.ZipFile(handle, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
            for name, array in arrays.items():
                with archive.open(name + ".npy", mode="w", force_zip64=True) as member:
                    np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)
        handle.flush()
        os.fsync(handle.fileno())


def _hash_file(path: Path) -> tuple[str, int, os.stat_result]:
    """Return the sha256 hex digest, size and stat of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        status = os.fstat(handle.fileno())
        for chunk in iter(lambda: handle.read(_HASH_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest(), status.st_size, status


def _fsync_dir(path: Path) -> None:
    # Makes a rename or a new directory entry durable. Windows cannot open directories this way.
    if os.name != "posix":
        return
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _file_identity(status: os.stat_result) -> tuple[int, int, int, int]:
    return status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns


# ---------------------------------------------------------------------------------------------
# Entries


class Entry:
    """One complete, verified capture in the run store.

    Arrays are loaded lazily from ``arrays.npz`` and cached. The cached arrays are read-only, so
    call ``array(name, dtype=...)`` or ``.copy()`` for a writable one.
    """

    def __init__(
        self,
        key: str,
        path: Path,
        manifest: dict[str, Any],
        meta: dict[str, Any],
        arrays_identity: tuple[int, int, int, int],
    ) -> None:
        self._key = key
        self._path = path
        self._manifest = manifest
        self._meta = meta
        self._arrays_identity = arrays_identity
        self._cache: dict[str, np.ndarray] = {}

    @property
    def key(self) -> str:
        """Store key of this entry."""
        return self._key

    @property
    def path(self) -> Path:
        """Entry directory."""
        return self._path

    @property
    def meta(self) -> dict[str, Any]:
        """Metadata dict as read back from JSON (tuples come back as lists)."""
        return self._meta

    @property
    def names(self) -> tuple[str, ...]:
        """Array names, in the order they were stored."""
        return tuple(self._manifest["arrays"])

    @property
    def manifest(self) -> dict[str, Any]:
        """Copy of the parsed ``manifest.json``."""
        return copy.deepcopy(self._manifest)

    def array(self, name: str, dtype: npt.DTypeLike | None = None) -> np.ndarray:
        """Return array ``name`` in its stored dtype, or as a converted copy when ``dtype`` is given.

        Raises StoreError when the name is unknown or when another process removed or regenerated
        the entry after it was read, and CorruptEntryError when the stored array does not match
        the manifest.
        """
        if name not in self._manifest["arrays"]:
            raise StoreError(
                f"entry {self._path} has no array {name!r}; available arrays: {list(self.names)}"
            )

        array = self._cache.get(name)
        if array is None:
            array = self._load_array(name)
            array.flags.writeable = False
            self._cache[name] = array
            logger.debug("loaded array %r of entry %s", name, self._key)

        if dtype is None:
            return array
        return array.astype(dtype)

    def arrays(self, dtype: npt.DTypeLike | None = None) -> dict[str, np.ndarray]:
        """Return all arrays by name, converted to ``dtype`` when it is given."""
        return {name: self.array(name, dtype) for name in self.names}

    def file_path(self, name: str) -> Path:
        """Return the path of file ``name`` of this entry, for example the WAV of the sample."""
        if name not in self._manifest["files"]:
            extra = sorted(set(self._manifest["files"]) - RESERVED_FILE_NAMES)
            raise StoreError(f"entry {self._path} has no file {name!r}; its extra files are {extra}")
        return self._path / name

    def _load_array(self, name: str) -> np.ndarray:
        npz_path = self._path / ARRAYS_FILE
        regenerated_message = (
            f"entry {self._path} was removed or regenerated by another process after it was read: "
            "call RunStore.get() or get_or_create() again"
        )
        try:
            handle = open(npz_path, "rb")
        except FileNotFoundError:
            raise StoreError(regenerated_message) from None

        with handle:
            if _file_identity(os.fstat(handle.fileno())) != self._arrays_identity:
                raise StoreError(regenerated_message)
            try:
                with np.load(handle, allow_pickle=False) as npz:
                    array = npz[name]
            except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
                raise CorruptEntryError(
                    f"array {name!r} in {npz_path} cannot be read ({exc}): remove the entry with "
                    "RunStore.remove() so that it is regenerated"
                ) from exc

        record = self._manifest["arrays"][name]
        if array.dtype.str != record["stored_dtype"] or list(array.shape) != record["shape"]:
            raise CorruptEntryError(
                f"array {name!r} in {npz_path} has dtype {array.dtype.str} and shape {list(array.shape)}, "
                f"but the manifest lists {record['stored_dtype']} and {record['shape']}: remove the entry "
                "with RunStore.remove() so that it is regenerated"
            )
        return array

    def __repr__(self) -> str:
        return f"Entry(key={self._key!r}, path={str(self._path)!r}, arrays={len(self.names)})"


def _read_manifest(entry_dir: Path, key: str) -> dict[str, Any]:
    """Parse ``manifest.json`` and check its structure, raising CorruptEntryError on any problem."""
    manifest_path = entry_dir / MANIFEST_FILE
    try:
        manifest = json.loads(manifest_path.read_bytes())
    except (OSError, ValueError) as exc:
        raise CorruptEntryError(f"{MANIFEST_FILE} cannot be read as JSON ({exc})") from exc

    if not isinstance(manifest, dict):
        raise CorruptEntryError(f"{MANIFEST_FILE} is not a JSON object")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise CorruptEntryError(
            f"{MANIFEST_FILE} has format_version {manifest.get('format_version')!r}, expected {FORMAT_VERSION}"
        )
    if manifest.get("key") != key:
        raise CorruptEntryError(f"{MANIFEST_FILE} names key {manifest.get('key')!r}, expected {key}")

    files = manifest.get("files")
    files_valid = isinstance(files, dict) and all(
        isinstance(record, dict)
        and isinstance(record.get("sha256"), str)
        and isinstance(record.get("size"), int)
        for record in files.values()
    )
    if not files_valid:
        raise CorruptEntryError(f"{MANIFEST_FILE} has no valid 'files' table")
    for required in (ARRAYS_FILE, META_FILE):
        if required not in files:
            raise CorruptEntryError(f"{MANIFEST_FILE} does not list {required}")

    arrays = manifest.get("arrays")
    arrays_valid = isinstance(arrays, dict) and all(
        isinstance(record, dict)
        and isinstance(record.get("stored_dtype"), str)
        and isinstance(record.get("original_dtype"), str)
        and isinstance(record.get("shape"), list)
        for record in arrays.values()
    )
    if not arrays_valid:
        raise CorruptEntryError(f"{MANIFEST_FILE} has no valid 'arrays' table")
    return manifest


def _read_entry(entry_dir: Path, key: str) -> Entry | None:
    """Read and verify the entry in ``entry_dir``.

    Returns None when the directory or its manifest is missing, and raises CorruptEntryError
    when a checksum, size or parse check fails.
    """
    if not (entry_dir / MANIFEST_FILE).is_file():
        return None

    manifest = _read_manifest(entry_dir, key)

    arrays_identity = None
    for name, record in manifest["files"].items():
        try:
            digest, size, status = _hash_file(entry_dir / name)
        except FileNotFoundError:
            raise CorruptEntryError(f"file {name} listed in {MANIFEST_FILE} is missing") from None
        except OSError as exc:
            raise CorruptEntryError(f"file {name} cannot be read ({exc})") from exc
        if size != record["size"]:
            raise CorruptEntryError(f"file {name} has {size} bytes, the manifest lists {record['size']}")
        if digest != record["sha256"]:
            raise CorruptEntryError(f"file {name} fails its sha256 checksum")
        if name == ARRAYS_FILE:
            arrays_identity = _file_identity(status)

    try:
        meta = json.loads((entry_dir / META_FILE).read_bytes())
    except (OSError, ValueError) as exc:
        raise CorruptEntryError(f"{META_FILE} cannot be read as JSON ({exc})") from exc
    if not isinstance(meta, dict):
        raise CorruptEntryError(f"{META_FILE} is not a JSON object")

    try:
        with np.load(entry_dir / ARRAYS_FILE, allow_pickle=False) as npz:
            stored_names = set(npz.files)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise CorruptEntryError(f"{ARRAYS_FILE} cannot be opened ({exc})") from exc
    if stored_names != set(manifest["arrays"]):
        raise CorruptEntryError(
            f"{ARRAYS_FILE} contains arrays {sorted(stored_names)}, but the manifest lists {sorted(manifest['arrays'])}"
        )

    # _read_manifest checked that the manifest lists ARRAYS_FILE, so the loop above set this.
    assert arrays_identity is not None
    return Entry(key, entry_dir, manifest, meta, arrays_identity)


# ---------------------------------------------------------------------------------------------
# Store


class RunStore:
    """Directory of captures, one entry per key, laid out as the module docstring describes.

    ``lock_timeout`` is the number of seconds ``lock`` and ``get_or_create`` wait for another
    process that holds an entry's lock (``math.inf`` waits forever). ``float_dtype`` is the
    storage type of float arrays, "float16" (default) or "float32".

    Creating a store creates its directories, checks that the root is writable, and deletes
    write directories under ``tmp/`` older than ``STALE_TEMP_SECONDS``.
    """

    def __init__(
        self,
        root: Path | str,
        *,
        lock_timeout: float = 3600.0,
        float_dtype: str = "float16",
    ) -> None:
        self.root = Path(root)

        try:
            self.float_dtype = np.dtype(float_dtype)
        except TypeError as exc:
            raise StoreError(f"invalid float_dtype {float_dtype!r}: use 'float16' or 'float32'") from exc
        if self.float_dtype not in SUPPORTED_FLOAT_DTYPES:
            raise StoreError(f"invalid float_dtype {float_dtype!r}: use 'float16' or 'float32'")

        if not isinstance(lock_timeout, (int, float)) or math.isnan(lock_timeout) or lock_timeout < 0:
            raise StoreError(
                f"invalid lock_timeout {lock_timeout!r}: use a number of seconds >= 0, or math.inf to wait forever"
            )
        self.lock_timeout = float(lock_timeout)

        self._refresh_root = str(self.root.resolve())
        self._entries_dir = self.root / "entries"
        self._tmp_dir = self.root / "tmp"
        self._locks_dir = self.root / "locks"
        self._open_root()
        self._clean_tmp()

        logger.debug("opened run store at %s", self.root)

    def __repr__(self) -> str:
        return f"RunStore({str(self.root)!r}, float_dtype={self.float_dtype.name!r})"

    # -- reading ---------------------------------------------------------------------------------

    def contains(self, key: str) -> bool:
        """Return whether a complete entry (directory with manifest) exists, without verifying checksums."""
        _check_key(key)
        return (self._entry_dir(key) / MANIFEST_FILE).is_file()

    def keys(self) -> list[str]:
        """Return the sorted keys of all complete entries."""
        found = []
        if not self._entries_dir.is_dir():
            return found
        for shard in self._entries_dir.iterdir():
            if not shard.is_dir():
                continue
            for entry_dir in shard.iterdir():
                is_entry = _KEY_PATTERN.fullmatch(entry_dir.name) is not None
                if is_entry and (entry_dir / MANIFEST_FILE).is_file():
                    found.append(entry_dir.name)
        return sorted(found)

    def get(self, key: str) -> Entry | None:
        """Return the complete, verified entry for ``key``, or None.

        Every file listed in the manifest is checked by size and sha256, so a get costs one read
        of the entry's files. An entry that fails a check is reported with CorruptEntryWarning,
        removed and returned as None, so the next ``get_or_create`` regenerates it. An entry
        directory without a manifest is incomplete and returns None without a warning.
        """
        _check_key(key)
        entry_dir = self._entry_dir(key)

        try:
            entry = _read_entry(entry_dir, key)
        except CorruptEntryError:
            # A concurrent refresh or remove can swap the directory while it is read, so check
            # again while holding the lock that those operations hold.
            with self.lock(key):
                try:
                    entry = _read_entry(entry_dir, key)
                except CorruptEntryError as exc:
                    self._discard_corrupt(entry_dir, key, exc)
                    return None

        if entry is None:
            logger.debug("no complete entry for key %s", key)
        else:
            logger.debug("read entry %s", entry_dir)
        return entry

    # -- writing ---------------------------------------------------------------------------------

    def put(
        self,
        key: str,
        arrays: Mapping[str, np.ndarray],
        meta: Mapping[str, Any],
        files: Mapping[str, bytes] | None = None,
        keep_precision: Iterable[str] = (),
        *,
        replace: bool = False,
    ) -> Entry:
        """Write an entry atomically and return it.

        Float arrays are stored as ``float_dtype`` except those named in ``keep_precision``. An
        array with finite values beyond ``float_dtype``'s range is stored in the narrowest wider
        float type that can represent them. Integer, bool, complex and str arrays keep their
        dtype. The manifest records each array's original and stored dtype and the reason for the
        choice. Values below float16's smallest subnormal (about 6e-8) become zero in float16
        storage.

        A complete, valid entry that already exists is kept and returned unless ``replace`` is
        true. Raises StoreError for invalid input or when the write fails.
        """
        _check_key(key)
        with self.lock(key):
            return self._put_locked(key, arrays, meta, files, keep_precision, replace=replace)

    def get_or_create(
        self,
        key: str,
        make: Callable[[], tuple[Mapping[str, np.ndarray], Mapping[str, Any], Mapping[str, bytes] | None]],
        *,
        refresh: bool = False,
        keep_precision: Iterable[str] = (),
    ) -> Entry:
        """Return the entry for ``key``, calling ``make`` to generate it when it is absent or invalid.

        ``make`` returns ``(arrays, meta, files)``, with ``files`` possibly None. It runs under
        the entry's inter-process lock, and the entry is checked again after the lock is taken,
        so concurrent processes call ``make`` once per key and the others wait, then read.

        ``refresh=True`` regenerates the entry even when it exists, but only once per process and
        key: a later call in the same process reads the regenerated entry, so several tests
        requesting one sample do not regenerate it again and again. Under pytest-xdist every
        worker is a separate process, so every worker that requests the key regenerates it once.

        When ``make`` raises, no entry is written, the lock is released and the error propagates.
        """
        _check_key(key)
        refresh_id = (self._refresh_root, key)
        regenerate = refresh and refresh_id not in _REFRESHED

        if not regenerate:
            entry = self.get(key)
            if entry is not None:
                return entry

        with self.lock(key):
            if not regenerate:
                # Another process may have written the entry while this one waited for the lock.
                entry = self.get(key)
                if entry is not None:
                    return entry

            existed = self.contains(key)
            logger.info("%s entry %s", "regenerating" if existed else "generating", key)
            result = make()
            arrays, meta, files = self._unpack_made(key, result)
            entry = self._put_locked(key, arrays, meta, files, keep_precision, replace=True)

            if refresh:
                _REFRESHED.add(refresh_id)
            logger.info("%s entry %s", "regenerated" if existed else "generated", entry.path)
        return entry

    def remove(self, key: str) -> None:
        """Delete the entry for ``key`` if it exists, complete or not."""
        _check_key(key)
        with self.lock(key):
            if self._remove_locked(key):
                logger.info("removed entry %s", self._entry_dir(key))

    # -- locks -----------------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self, key: str) -> Iterator[filelock.BaseFileLock]:
        """Hold the inter-process lock of ``key`` for the ``with`` block.

        Waits at most ``lock_timeout`` seconds and then raises StoreError naming the lock file.
        """
        _check_key(key)
        file_lock = self._file_lock(key)

        try:
            file_lock.acquire(blocking=False)
        except filelock.Timeout:
            logger.info(
                "waiting up to %g s for lock %s, held by another process or thread",
                self.lock_timeout, file_lock.lock_file,
            )
            timeout = -1 if math.isinf(self.lock_timeout) else self.lock_timeout
            try:
                file_lock.acquire(timeout=timeout)
            except filelock.Timeout:
                raise StoreError(
                    f"timed out after {self.lock_timeout:g} s waiting for run store lock "
                    f"{file_lock.lock_file}. Another process or thread holds it, or hangs while holding it. "
                    "Wait for that process, or raise lock_timeout when generating one sample takes "
                    "longer. If no other test process runs, the lock is stale: delete that file and rerun"
                ) from None

        try:
            yield file_lock
        finally:
            file_lock.release()

    def try_lock(self, key: str) -> filelock.BaseFileLock | None:
        """Acquire the lock of ``key`` without waiting; return the lock, or None when it is held elsewhere.

        The caller calls ``release()`` on the returned lock. In a thread that already holds the
        lock, this acquires it again (filelock locks are re-entrant per thread), and each
        acquisition needs its own ``release()``.
        """
        _check_key(key)
        file_lock = self._file_lock(key)
        try:
            file_lock.acquire(blocking=False)
        except filelock.Timeout:
            return None
        return file_lock

    # -- internals -------------------------------------------------------------------------------

    def _entry_dir(self, key: str) -> Path:
        return self._entries_dir / key[:2] / key

    def _lock_path(self, key: str) -> Path:
        return self._locks_dir / f"{key}.lock"

    def _file_lock(self, key: str) -> filelock.BaseFileLock:
        # is_singleton makes every store object in this process share one re-entrant lock per key.
        return filelock.FileLock(str(self._lock_path(key)), is_singleton=True)

    def _open_root(self) -> None:
        try:
            for directory in (self._entries_dir, self._tmp_dir, self._locks_dir):
                directory.mkdir(parents=True, exist_ok=True)

            # mkdir succeeds on existing directories, so probe with a real write.
            probe = self._tmp_dir / f"write-probe-{secrets.token_hex(8)}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise StoreError(
                f"run store root {self.root} is not writable ({exc.strerror or exc}): "
                "pass a writable directory as the store root or fix its permissions"
            ) from exc

    def _clean_tmp(self) -> None:
        now = time.time()
        for path in self._tmp_dir.iterdir():
            try:
                age = now - path.lstat().st_mtime
            except FileNotFoundError:
                continue

            # Removed entries are renamed to trash-* and can always go. A write-* directory is
            # only deleted once it is old enough that no live process can still be writing it.
            is_trash = path.name.startswith("trash-")
            if not is_trash and age < STALE_TEMP_SECONDS:
                continue

            logger.info("deleting leftover temporary path %s (%.0f s old)", path, age)
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    path.unlink()

    def _discard_corrupt(self, entry_dir: Path, key: str, error: CorruptEntryError) -> None:
        message = f"run store entry {entry_dir} is corrupt ({error}); removing it so that it will be regenerated"
        warnings.warn(message, CorruptEntryWarning, stacklevel=3)
        logger.warning(message)
        self._remove_locked(key)

    def _remove_locked(self, key: str) -> bool:
        """Delete the entry directory of ``key`` and return whether one existed. The caller holds the lock."""
        entry_dir = self._entry_dir(key)
        if not entry_dir.exists():
            return False

        # Renaming first makes the removal atomic for readers, who see the whole entry or none.
        trash = self._tmp_dir / f"trash-{key[:12]}-{secrets.token_hex(8)}"
        try:
            os.rename(entry_dir, trash)
        except OSError as exc:
            raise StoreError(
                f"cannot remove run store entry {entry_dir} ({exc.strerror or exc}): "
                "fix the permissions of the store root or delete that directory by hand"
            ) from exc
        shutil.rmtree(trash, ignore_errors=True)
        return True

    def _unpack_made(self, key: str, result: Any) -> tuple[Any, Any, Any]:
        if not isinstance(result, tuple) or len(result) != 3:
            raise StoreError(
                f"make() for entry {key} returned {type(result).__name__}, expected a tuple "
                "(arrays, meta, files) where files may be None"
            )
        return result

    def _put_locked(
        self,
        key: str,
        arrays: Mapping[str, np.ndarray],
        meta: Mapping[str, Any],
        files: Mapping[str, bytes] | None,
        keep_precision: Iterable[str],
        *,
        replace: bool,
    ) -> Entry:
        stored_arrays, array_records = _prepare_arrays(key, arrays, self.float_dtype, keep_precision)
        meta_bytes = _prepare_meta(key, meta)
        extra_files = _prepare_files(key, files)
        entry_dir = self._entry_dir(key)

        if not replace:
            try:
                existing = _read_entry(entry_dir, key)
            except CorruptEntryError as exc:
                self._discard_corrupt(entry_dir, key, exc)
                existing = None
            if existing is not None:
                logger.info("kept existing entry %s; pass replace=True to overwrite it", entry_dir)
                return existing

        # Not tempfile.mkdtemp, whose mode 0700 would stop other users of a shared store from
        # reading the entry after the rename. os.mkdir applies the umask as usual.
        write_dir = self._tmp_dir / f"write-{key[:12]}-{secrets.token_hex(8)}"
        try:
            os.mkdir(write_dir)
            manifest = self._write_entry_files(
                write_dir, key, stored_arrays, array_records, meta_bytes, extra_files
            )
            arrays_identity = _file_identity(os.stat(write_dir / ARRAYS_FILE))

            entry_dir.parent.mkdir(parents=True, exist_ok=True)
            if self._remove_locked(key):
                logger.info("removed the previous or incomplete entry %s", entry_dir)
            os.rename(write_dir, entry_dir)
            _fsync_dir(entry_dir.parent)
        except OSError as exc:
            shutil.rmtree(write_dir, ignore_errors=True)
            raise StoreError(
                f"cannot write run store entry {entry_dir} via {write_dir} ({exc.strerror or exc}): "
                "check free disk space and the permissions of the store root"
            ) from exc
        except BaseException:
            shutil.rmtree(write_dir, ignore_errors=True)
            raise

        meta_dict = json.loads(meta_bytes)
        return Entry(key, entry_dir, manifest, meta_dict, arrays_identity)

    def _write_entry_files(
        self,
        write_dir: Path,
        key: str,
        arrays: Mapping[str, np.ndarray],
        array_records: dict[str, dict[str, Any]],
        meta_bytes: bytes,
        extra_files: Mapping[str, bytes],
    ) -> dict[str, Any]:
        """Write all files of an entry into ``write_dir``, manifest last, and return the manifest."""
        _write_npz(write_dir / ARRAYS_FILE, arrays)
        _write_file(write_dir / META_FILE, meta_bytes)
        for name, data in extra_files.items():
            _write_file(write_dir / name, data)

        file_records = {}
        for name in (ARRAYS_FILE, META_FILE, *extra_files):
            # Hashing what is on disk, not the in-memory bytes, also covers the npz that zipfile wrote.
            digest, size, _ = _hash_file(write_dir / name)
            file_records[name] = {"sha256": digest, "size": size}

        manifest = {
            "format_version": FORMAT_VERSION,
            "key": key,
            "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "arrays": array_records,
            "files": file_records,
        }
        # Unsorted, so that a reader gets the arrays in the order they were stored.
        manifest_text = json.dumps(manifest, indent=2, ensure_ascii=False)
        _write_file(write_dir / MANIFEST_FILE, manifest_text.encode("utf-8"))
        _fsync_dir(write_dir)
        return manifest
