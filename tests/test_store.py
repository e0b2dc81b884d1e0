"""Tests of the run store: round trips, keys, corruption, interrupted writes, refresh and locks.

Cross-process tests use the "fork" start method, so they run on platforms that offer it (Linux,
macOS) and are skipped elsewhere.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from emotion_hypotheses import store as store_module
from emotion_hypotheses.errors import StoreError
from emotion_hypotheses.store import (
    FORMAT_VERSION,
    CorruptEntryWarning,
    RunStore,
    entry_key,
)

needs_fork = pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(),
    reason="cross-process tests use the fork start method",
)

# float16's max is 65504 and its spacing there is 32, so values from 65520 up round to infinity.
FLOAT16_OVERFLOW = 65520.0


def sample_fields(**changes):
    fields = {
        "model": "facebook/musicgen-small",
        "revision": "0123abcd",
        "prompt": "a calm piano piece",
        "seed": 7,
        "generation": {"max_new_tokens": 64, "temperature": 1.0, "top_k": 250},
        "capture": ["decoder.layers.0", "decoder.layers.12"],
    }
    fields.update(changes)
    return fields


def sample_arrays(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "hidden": rng.standard_normal((4, 8)).astype(np.float32),
        "tokens": rng.integers(0, 2048, size=(4, 16), dtype=np.int64),
    }


def counting_make(counter, arrays=None, meta=None, files=None):
    """Return a make() that counts its calls in counter["calls"] and returns a new capture each call."""

    def make():
        counter["calls"] = counter.get("calls", 0) + 1
        made_arrays = arrays if arrays is not None else sample_arrays(seed=counter["calls"])
        made_meta = meta if meta is not None else {"call": counter["calls"]}
        return made_arrays, made_meta, files

    return make


def only_entry_dir(root: Path) -> Path:
    entry_dirs = [path for path in (root / "entries").glob("*/*") if path.is_dir()]
    assert len(entry_dirs) == 1
    return entry_dirs[0]


def try_lock_in_child(root: Path, key: str) -> bool:
    """Return whether a forked process can acquire the lock of ``key`` without waiting."""
    result = multiprocessing.get_context("fork").Queue()

    def attempt():
        lock = RunStore(root).try_lock(key)
        result.put(lock is not None)
        if lock is not None:
            lock.release()

    process = multiprocessing.get_context("fork").Process(target=attempt)
    process.start()
    acquired = result.get(timeout=30)
    process.join(timeout=30)
    assert process.exitcode == 0
    return acquired


# ---------------------------------------------------------------------------------------------
# Round trips


def test_round_trip_dtypes_meta_files(tmp_path):
    rng = np.random.default_rng(1)
    arrays = {
        "hidden": rng.standard_normal((3, 5)).astype(np.float32),
        "double": rng.standard_normal(6),
        "logits": rng.standard_normal(10).astype(np.float32) * 1e-3,
        "large": np.array([1.0, -2.0e5, 3.0e4], dtype=np.float32),
        "tokens": rng.integers(-5, 2048, size=(2, 7), dtype=np.int32),
        "mask": np.array([True, False, True]),
        "file": np.arange(3, dtype=np.int16),
    }
    meta = {"prompt": "a sad, slow violin – über", "emotion": "sadness", "layers": [0, 12], "nested": {"a": None}}
    files = {"audio.wav": b"RIFF\x00\x01fake wav bytes", "notes.txt": "tempo 60".encode()}
    key = entry_key(sample_fields())

    RunStore(tmp_path).put(key, arrays, meta, files, keep_precision=["logits"])
    entry = RunStore(tmp_path).get(key)

    assert entry is not None
    assert entry.key == key
    assert entry.meta == meta
    assert entry.names == tuple(arrays)

    records = entry.manifest["arrays"]
    expected_stored = {
        "hidden": ("<f4", "<f2", "float_dtype"),
        "double": ("<f8", "<f2", "float_dtype"),
        "logits": ("<f4", "<f4", "keep_precision"),
        "large": ("<f4", "<f4", "overflow"),
        "tokens": ("<i4", "<i4", "not_float"),
        "mask": ("|b1", "|b1", "not_float"),
        "file": ("<i2", "<i2", "not_float"),
    }
    for name, (original, stored, reason) in expected_stored.items():
        assert records[name]["original_dtype"] == original, name
        assert records[name]["stored_dtype"] == stored, name
        assert records[name]["storage"] == reason, name
        assert entry.array(name).dtype == np.dtype(stored), name
        assert entry.array(name).shape == arrays[name].shape, name

    np.testing.assert_array_equal(entry.array("hidden"), arrays["hidden"].astype(np.float16))
    np.testing.assert_array_equal(entry.array("double"), arrays["double"].astype(np.float16))
    np.testing.assert_array_equal(entry.array("logits"), arrays["logits"])
    np.testing.assert_array_equal(entry.array("large"), arrays["large"])
    np.testing.assert_array_equal(entry.array("tokens"), arrays["tokens"])
    np.testing.assert_array_equal(entry.array("mask"), arrays["mask"])
    np.testing.assert_array_equal(entry.array("file"), arrays["file"])

    for name, data in files.items():
        assert entry.file_path(name).read_bytes() == data


def test_array_dtype_conversion_and_cache(tmp_path):
    store = RunStore(tmp_path)
    key = entry_key(sample_fields())
    arrays = sample_arrays()
    entry = store.put(key, arrays, {})

    converted = entry.array("hidden", dtype=np.float32)
    cached = entry.array("hidden")

    assert converted.dtype == np.float32
    assert converted.flags.writeable
    np.testing.assert_allclose(converted, arrays["hidden"], rtol=2**-10, atol=2**-24)
    assert cached.dtype == np.float16
    assert not cached.flags.writeable
    assert entry.array("hidden") is cached
    assert set(entry.arrays(dtype=np.float64)) == {"hidden", "tokens"}
    assert entry.arrays(dtype=np.float64)["tokens"].dtype == np.float64

    with pytest.raises(StoreError, match="no array 'missing'"):
        entry.array("missing")
    with pytest.raises(StoreError, match="no file 'missing.wav'"):
        entry.file_path("missing.wav")


def test_float32_storage_option(tmp_path):
    store = RunStore(tmp_path, float_dtype="float32")
    key = entry_key(sample_fields())
    arrays = {
        "double": np.array([0.1, 0.2, 1e10]),
        "huge": np.array([1.0, 1e300]),
        "half": np.array([0.5, 1.5], dtype=np.float16),
    }

    store.put(key, arrays, {})
    entry = store.get(key)

    assert entry.array("double").dtype == np.float32
    assert entry.array("huge").dtype == np.float64
    assert entry.manifest["arrays"]["huge"]["storage"] == "overflow"
    assert entry.array("half").dtype == np.float16
    assert entry.manifest["arrays"]["half"]["storage"] == "not_narrower"
    np.testing.assert_array_equal(entry.array("huge"), arrays["huge"])


def test_nan_and_infinity_stay_float16(tmp_path):
    store = RunStore(tmp_path)
    key = entry_key(sample_fields())
    values = np.array([np.nan, np.inf, -np.inf, 1.0], dtype=np.float32)

    entry = store.put(key, {"values": values}, {})

    assert entry.array("values").dtype == np.float16
    np.testing.assert_array_equal(entry.array("values"), values.astype(np.float16))


def test_put_keeps_existing_unless_replace(tmp_path):
    store = RunStore(tmp_path)
    key = entry_key(sample_fields())

    store.put(key, sample_arrays(seed=1), {"version": 1})
    kept_entry = store.put(key, sample_arrays(seed=2), {"version": 2})
    assert kept_entry.meta == {"version": 1}
    assert store.get(key).meta == {"version": 1}

    replaced = store.put(key, sample_arrays(seed=2), {"version": 2}, replace=True)
    assert replaced.meta == {"version": 2}
    assert store.get(key).meta == {"version": 2}
    np.testing.assert_array_equal(store.get(key).array("tokens"), sample_arrays(seed=2)["tokens"])


def test_stale_entry_object_after_replace(tmp_path):
    store = RunStore(tmp_path)
    key = entry_key(sample_fields())
    old_entry = store.put(key, sample_arrays(seed=1), {"version": 1})

    store.put(key, sample_arrays(seed=2), {"version": 2}, replace=True)

    with pytest.raises(StoreError, match="removed or regenerated by another process"):
        old_entry.array("hidden")


def test_contains_keys_remove(tmp_path):
    store = RunStore(tmp_path)
    first = entry_key(sample_fields(seed=1))
    second = entry_key(sample_fields(seed=2))

    assert store.keys() == []
    assert not store.contains(first)

    store.put(first, sample_arrays(), {})
    store.put(second, sample_arrays(), {})
    assert store.contains(first)
    assert store.keys() == sorted([first, second])

    store.remove(first)
    assert not store.contains(first)
    assert store.get(first) is None
    assert store.keys() == [second]
    store.remove(first)


# ---------------------------------------------------------------------------------------------
# Keys


def test_key_ignores_dict_order():
    fields = sample_fields()
    reordered = dict(reversed(list(fields.items())))
    reordered["generation"] = dict(reversed(list(fields["generation"].items())))

    assert entry_key(fields) == entry_key(reordered)
    assert len(entry_key(fields)) == 64
    assert int(entry_key(fields), 16) >= 0


@pytest.mark.parametrize(
    "changes",
    [
        {"model": "facebook/musicgen-medium"},
        {"revision": "fedcba98"},
        {"prompt": "a calm piano piece."},
        {"seed": 8},
        {"seed": 7.0},
        {"generation": {"max_new_tokens": 64, "temperature": 0.9, "top_k": 250}},
        {"generation": {"max_new_tokens": 64, "temperature": 1.0 + 1e-15, "top_k": 250}},
        {"capture": ["decoder.layers.0"]},
        {"weights_sha256": "abc"},
    ],
)
def test_key_changes_with_any_field(changes):
    assert entry_key(sample_fields(**changes)) != entry_key(sample_fields())


def test_key_includes_format_version(monkeypatch):
    before = entry_key(sample_fields())

    monkeypatch.setattr(store_module, "FORMAT_VERSION", FORMAT_VERSION + 1)

    assert entry_key(sample_fields()) != before


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"seed": np.int64(3)}, "'seed'"),
        ({"generation": {"temperature": np.float32(1.0)}}, "'generation'['temperature']"),
        ({"capture": ["a", {"b"}]}, "'capture'[1]"),
        ({"temperature": float("nan")}, "'temperature'"),
        ({"layers": {1: "a"}}, "'layers'[1]"),
        ({"callback": print}, "'callback'"),
    ],
)
def test_key_rejects_non_json_field(fields, named):
    with pytest.raises(StoreError) as raised:
        entry_key(fields)

    assert named in str(raised.value)


def test_key_rejects_empty_fields():
    with pytest.raises(StoreError, match="no fields"):
        entry_key({})


# ---------------------------------------------------------------------------------------------
# Corruption


def flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def garble_manifest(entry_dir: Path) -> None:
    (entry_dir / "manifest.json").write_text("{not json", encoding="utf-8")


def wrong_format_version(entry_dir: Path) -> None:
    manifest_path = entry_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["format_version"] = FORMAT_VERSION + 100
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")


CORRUPTIONS = {
    "flipped npz byte": lambda entry_dir: flip_byte(entry_dir / "arrays.npz"),
    "truncated npz": lambda entry_dir: truncate(entry_dir / "arrays.npz"),
    "truncated meta": lambda entry_dir: truncate(entry_dir / "meta.json"),
    "flipped wav byte": lambda entry_dir: flip_byte(entry_dir / "audio.wav"),
    "deleted wav": lambda entry_dir: (entry_dir / "audio.wav").unlink(),
    "garbage manifest": garble_manifest,
    "wrong format version": wrong_format_version,
}


@pytest.mark.parametrize("corrupt", CORRUPTIONS.values(), ids=list(CORRUPTIONS))
def test_corrupt_entry_warns_and_regenerates(tmp_path, corrupt):
    store = RunStore(tmp_path)
    key = entry_key(sample_fields())
    counter = {}
    make = counting_make(counter, files={"audio.wav": b"RIFF" + bytes(range(64))})
    store.get_or_create(key, make)
    entry_dir = only_entry_dir(tmp_path)

    corrupt(entry_dir)

    with pytest.warns(CorruptEntryWarning, match=str(entry_dir)):
        assert store.get(key) is None
    assert not entry_dir.exists()

    entry = store.get_or_create(key, make)
    assert counter["calls"] == 2
    assert entry.meta == {"call": 2}
    assert store.get(key) is not None


def test_corrupt_entry_regenerated_by_get_or_create(tmp_path):
    store = RunStore(tmp_path)
    key = entry_key(sample_fields())
    counter = {}
    make = counting_make(counter)
    store.get_or_create(key, make)

    flip_byte(only_entry_dir(tmp_path) / "arrays.npz")

    with pytest.warns(CorruptEntryWarning, match="will be regenerated"):
        entry = store.get_or_create(key, make)
    assert counter["calls"] == 2
    np.testing.assert_array_equal(entry.array("tokens"), sample_arrays(seed=2)["tokens"])


def test_missing_manifest_is_absent(tmp_path):
    store = RunStore(tmp_path)
    key = entry_key(sample_fields())
    counter = {}
    make = counting_make(counter)
    store.get_or_create(key, make)
    entry_dir = only_entry_dir(tmp_path)
    (entry_dir / "manifest.json").unlink()
    (entry_dir / "leftover.bin").write_bytes(b"partial")

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert store.get(key) is None
    assert not store.contains(key)
    assert store.keys() == []

    store.get_or_create(key, make)
    assert counter["calls"] == 2
    assert store.contains(key)
    assert not (entry_dir / "leftover.bin").exists()


# ---------------------------------------------------------------------------------------------
# Interrupted writes


def test_failing_make_leaves_nothing(tmp_path):
    store = RunStore(tmp_path)
    key = entry_key(sample_fields())

    def make():
        raise ValueError("generation failed")

    with pytest.raises(ValueError, match="generation failed"):
        store.get_or_create(key, make)

    assert not store.contains(key)
    assert store.get(key) is None
    assert list((tmp_path / "tmp").iterdir()) == []
    assert list((tmp_path / "entries").iterdir()) == []


@needs_fork
def test_failing_make_releases_lock(tmp_path):
    store = RunStore(tmp_path)
    key = entry_key(sample_fields())

    with pytest.raises(ZeroDivisionError):
        store.get_or_create(key, lambda: 1 / 0)

    assert try_lock_in_child(tmp_path, key)


def test_interrupted_write_cleans_up(tmp_path, monkeypatch):
    store = RunStore(tmp_path)
    key = entry_key(sample_fields())
    real_write_file = store_module._write_file

    def interrupt_at_manifest(path, data):
        if path.name == "manifest.json":
            raise KeyboardInterrupt
        real_write_file(path, data)

    monkeypatch.setattr(store_module, "_write_file", interrupt_at_manifest)
    with pytest.raises(KeyboardInterrupt):
        store.put(key, sample_arrays(), {})
    monkeypatch.undo()

    assert not store.contains(key)
    assert store.get(key) is None
    assert list((tmp_path / "tmp").iterdir()) == []
    counter = {}
    store.get_or_create(key, counting_make(counter))
    assert counter["calls"] == 1


def write_until_killed(root: Path, key: str) -> None:
    """Start a put and kill this process after arrays.npz, before the manifest is written."""
    real_write_file = store_module._write_file

    def die_at_manifest(path, data):
        if path.name == "manifest.json":
            os._exit(17)
        real_write_file(path, data)

    store_module._write_file = die_at_manifest
    RunStore(root).put(key, sample_arrays(), {"from": "killed process"})


@needs_fork
def test_killed_write_is_not_readable(tmp_path):
    key = entry_key(sample_fields())
    RunStore(tmp_path)

    process = multiprocessing.get_context("fork").Process(target=write_until_killed, args=(tmp_path, key))
    process.start()
    process.join(timeout=30)
    assert process.exitcode == 17

    leftovers = list((tmp_path / "tmp").iterdir())
    assert len(leftovers) == 1
    assert (leftovers[0] / "arrays.npz").is_file()

    store = RunStore(tmp_path, lock_timeout=5)
    assert leftovers[0].exists()
    assert not store.contains(key)
    assert store.get(key) is None

    counter = {}
    entry = store.get_or_create(key, counting_make(counter))
    assert counter["calls"] == 1
    assert entry.meta == {"call": 1}


def test_stale_temp_dirs_cleaned_on_init(tmp_path):
    RunStore(tmp_path)
    temp_root = tmp_path / "tmp"
    stale = temp_root / "write-0123456789ab-stale"
    fresh = temp_root / "write-0123456789ab-fresh"
    trash = temp_root / "trash-0123456789ab-any"
    for directory in (stale, fresh, trash):
        directory.mkdir()
        (directory / "arrays.npz").write_bytes(b"partial")
    old = time.time() - store_module.STALE_TEMP_SECONDS - 60
    os.utime(stale, (old, old))

    RunStore(tmp_path)

    assert not stale.exists()
    assert fresh.exists()
    assert not trash.exists()


# ---------------------------------------------------------------------------------------------
# Refresh


def test_refresh_once_per_process_and_key(tmp_path):
    store = RunStore(tmp_path)
    key = entry_key(sample_fields())
    other_key = entry_key(sample_fields(seed=99))
    counter = {}
    make = counting_make(counter)

    store.get_or_create(key, make)
    assert counter["calls"] == 1

    refreshed = store.get_or_create(key, make, refresh=True)
    assert counter["calls"] == 2
    assert refreshed.meta == {"call": 2}

    again = store.get_or_create(key, make, refresh=True)
    assert counter["calls"] == 2
    assert again.meta == {"call": 2}

    RunStore(tmp_path).get_or_create(key, make, refresh=True)
    assert counter["calls"] == 2

    store.get_or_create(other_key, make, refresh=True)
    assert counter["calls"] == 3


def test_refresh_of_absent_key_generates_once(tmp_path):
    store = RunStore(tmp_path)
    key = entry_key(sample_fields())
    counter = {}
    make = counting_make(counter)

    store.get_or_create(key, make, refresh=True)
    store.get_or_create(key, make, refresh=True)

    assert counter["calls"] == 1


# ---------------------------------------------------------------------------------------------
# Concurrency and locks


def generate_and_read(root: Path, keys: list[str], counter_path: Path, results_dir: Path, barrier) -> None:
    """Worker of the concurrency test: get_or_create every key and record array digests."""
    store = RunStore(root, lock_timeout=60)

    def make_for(key):
        def make():
            # O_APPEND makes each small write land whole at the end, even with several writers.
            descriptor = os.open(counter_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            try:
                os.write(descriptor, f"{key}\n".encode())
            finally:
                os.close(descriptor)
            time.sleep(0.2)
            rng = np.random.default_rng(os.getpid())
            return {"hidden": rng.standard_normal(32).astype(np.float32)}, {"pid": os.getpid()}, None

        return make

    barrier.wait(timeout=30)
    digests = {}
    for key in keys:
        entry = store.get_or_create(key, make_for(key))
        digests[key] = {"hidden": entry.array("hidden").tobytes().hex(), "maker": entry.meta["pid"]}
    (results_dir / f"{os.getpid()}.json").write_text(json.dumps(digests), encoding="utf-8")


@needs_fork
def test_concurrent_processes_make_each_key_once(tmp_path):
    context = multiprocessing.get_context("fork")
    root = tmp_path / "store"
    counter_path = tmp_path / "made.txt"
    results_dir = tmp_path / "results"
    results_dir.mkdir()
    keys = [entry_key(sample_fields(seed=seed)) for seed in range(3)]
    RunStore(root)
    barrier = context.Barrier(4)

    processes = []
    for index in range(4):
        # Each process walks the keys in a different order, so the locks are contended.
        order = keys[index % 3:] + keys[: index % 3]
        process = context.Process(
            target=generate_and_read, args=(root, order, counter_path, results_dir, barrier)
        )
        process.start()
        processes.append(process)
    for process in processes:
        process.join(timeout=60)

    assert [process.exitcode for process in processes] == [0, 0, 0, 0]
    made_keys = counter_path.read_text(encoding="utf-8").split()
    assert sorted(made_keys) == sorted(keys)

    results = [json.loads(path.read_text(encoding="utf-8")) for path in results_dir.iterdir()]
    assert len(results) == 4
    for result in results[1:]:
        assert result == results[0]
    assert RunStore(root).keys() == sorted(keys)


def hold_lock(root: Path, key: str, lock_held, release) -> None:
    lock = RunStore(root).try_lock(key)
    assert lock is not None
    lock_held.set()
    release.wait(timeout=30)
    lock.release()


@needs_fork
def test_try_lock_held_by_other_process(tmp_path):
    context = multiprocessing.get_context("fork")
    key = entry_key(sample_fields())
    store = RunStore(tmp_path, lock_timeout=0.2)
    lock_held = context.Event()
    release = context.Event()
    process = context.Process(target=hold_lock, args=(tmp_path, key, lock_held, release))
    process.start()

    try:
        assert lock_held.wait(timeout=30)
        assert store.try_lock(key) is None

        lock_file = str(tmp_path / "locks" / f"{key}.lock")
        with pytest.raises(StoreError) as raised:
            with store.lock(key):
                pass
        assert lock_file in str(raised.value)
        assert "delete that file" in str(raised.value)
    finally:
        release.set()
        process.join(timeout=30)
    assert process.exitcode == 0

    lock = store.try_lock(key)
    assert lock is not None
    lock.release()


def test_try_lock_held_by_other_thread(tmp_path):
    store = RunStore(tmp_path)
    key = entry_key(sample_fields())
    outcome = {}

    def attempt():
        outcome["lock"] = RunStore(tmp_path).try_lock(key)

    lock = store.try_lock(key)
    try:
        thread = threading.Thread(target=attempt)
        thread.start()
        thread.join(timeout=30)
    finally:
        lock.release()

    assert outcome["lock"] is None


@needs_fork
def test_claimed_key_reentrant_in_same_thread(tmp_path):
    store = RunStore(tmp_path)
    key = entry_key(sample_fields())
    counter = {}

    claim = store.try_lock(key)
    assert claim is not None
    try:
        again = store.try_lock(key)
        assert again is claim
        again.release()

        entry = store.get_or_create(key, counting_make(counter))
        assert entry.meta == {"call": 1}
        assert not try_lock_in_child(tmp_path, key)
    finally:
        claim.release()

    assert try_lock_in_child(tmp_path, key)


# ---------------------------------------------------------------------------------------------
# Bad input


def test_unwritable_root_names_path(tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_bytes(b"")
    root = blocker / "store"

    with pytest.raises(StoreError, match="not writable") as raised:
        RunStore(root)

    assert str(root) in str(raised.value)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can write to read-only directories")
def test_read_only_root_names_path(tmp_path):
    RunStore(tmp_path)
    os.chmod(tmp_path / "tmp", 0o500)

    try:
        with pytest.raises(StoreError, match=str(tmp_path)):
            RunStore(tmp_path)
    finally:
        os.chmod(tmp_path / "tmp", 0o700)


@pytest.mark.parametrize(
    ("meta", "named"),
    [
        ({"score": np.float32(0.5)}, "'score'"),
        ({"stats": {"mean": float("inf")}}, "'stats'['mean']"),
        ({"tags": ["a", object()]}, "'tags'[1]"),
    ],
)
def test_put_rejects_non_json_meta(tmp_path, meta, named):
    store = RunStore(tmp_path)
    key = entry_key(sample_fields())

    with pytest.raises(StoreError) as raised:
        store.put(key, sample_arrays(), meta)

    assert named in str(raised.value)
    assert not store.contains(key)


@pytest.mark.parametrize(
    ("arrays", "files", "keep_precision", "message"),
    [
        ({"bad": np.array([object()])}, None, (), "dtype object"),
        ({"": np.zeros(2)}, None, (), "invalid array name"),
        ({"hidden": np.zeros(2)}, {"../escape.wav": b""}, (), "invalid file name"),
        ({"hidden": np.zeros(2)}, {"meta.json": b"{}"}, (), "reserved"),
        ({"hidden": np.zeros(2)}, {"audio.wav": "text"}, (), "must be bytes"),
        ({"hidden": np.zeros(2)}, None, ("hiden",), "keep_precision names"),
    ],
)
def test_put_rejects_bad_arrays_and_files(tmp_path, arrays, files, keep_precision, message):
    store = RunStore(tmp_path)
    key = entry_key(sample_fields())

    with pytest.raises(StoreError, match=message):
        store.put(key, arrays, {}, files, keep_precision=keep_precision)

    assert not store.contains(key)


@pytest.mark.parametrize("key", ["abc", "A" * 64, "../" + "0" * 61, 12])
def test_invalid_key_rejected(tmp_path, key):
    store = RunStore(tmp_path)

    with pytest.raises(StoreError, match="invalid run store key"):
        store.get(key)


def test_invalid_store_options(tmp_path):
    with pytest.raises(StoreError, match="float_dtype"):
        RunStore(tmp_path, float_dtype="float64")
    with pytest.raises(StoreError, match="lock_timeout"):
        RunStore(tmp_path, lock_timeout=-1)


def test_make_with_wrong_result(tmp_path):
    store = RunStore(tmp_path)
    key = entry_key(sample_fields())

    with pytest.raises(StoreError, match=r"expected a tuple \(arrays, meta, files\)"):
        store.get_or_create(key, lambda: (sample_arrays(), {}))

    assert not store.contains(key)


# ---------------------------------------------------------------------------------------------
# Property test


finite_or_special_float32 = st.floats(width=32, allow_nan=True, allow_infinity=True)


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=hnp.arrays(np.float32, hnp.array_shapes(max_dims=3, max_side=6), elements=finite_or_special_float32),
    keep=st.booleans(),
)
def test_float32_round_trip_property(tmp_path_factory, values, keep):
    root = tmp_path_factory.mktemp("property")
    store = RunStore(root)
    key = entry_key({"values": values.tobytes().hex(), "shape": list(values.shape), "keep": keep})

    store.put(key, {"values": values}, {}, keep_precision=["values"] if keep else ())
    entry = store.get(key)
    stored = entry.array("values", dtype=np.float32)

    finite = np.isfinite(values)
    beyond_float16 = bool(np.any(np.abs(values[finite]) >= FLOAT16_OVERFLOW))
    expected_dtype = "<f4" if keep or beyond_float16 else "<f2"
    assert entry.manifest["arrays"]["values"]["stored_dtype"] == expected_dtype
    assert stored.shape == values.shape
    np.testing.assert_array_equal(np.isnan(stored), np.isnan(values))
    np.testing.assert_array_equal(np.isposinf(stored), np.isposinf(values))
    np.testing.assert_array_equal(np.isneginf(stored), np.isneginf(values))

    if keep or beyond_float16:
        np.testing.assert_array_equal(stored[finite], values[finite])
    else:
        # float16 rounds to nearest: relative error <= 2**-11 for normal values, absolute
        # error <= 2**-25 (half the smallest subnormal) below them. Values in (65504, 65520)
        # round down to 65504, which is within the relative bound.
        error = np.abs(stored[finite].astype(np.float64) - values[finite].astype(np.float64))
        bound = np.maximum(np.abs(values[finite].astype(np.float64)) * 2.0**-11, 2.0**-25)
        assert np.all(error <= bound)
