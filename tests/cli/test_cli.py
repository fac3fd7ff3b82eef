"""`qlm inspect` and `qlm dump` on GGUF files written by the gguf Python
package (an independent writer): every metadata value, tensor shape, offset and
size must be what gguf's own reader sees; dumps must equal gguf.quants; bad
input must give a clear error and a non-zero exit, never a crash."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from gguf import GGMLQuantizationType as T
from gguf import GGUFReader, GGUFValueType, GGUFWriter, quants

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "oracle"))
from conftest import random_blocks  # noqa: E402

QLM = os.environ.get("QLM_BIN", "")
MODEL = os.environ.get("QLM_MODEL", "")


def qlm(*args):
    if not QLM:
        pytest.fail("QLM_BIN is not set (run through ctest)")
    return subprocess.run([QLM, *map(str, args)], capture_output=True, text=True)


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "sample.gguf"
    rng = np.random.default_rng(5)
    w = GGUFWriter(path, "llama")
    w.add_uint8("t.u8", 200)
    w.add_int8("t.i8", -100)
    w.add_uint16("t.u16", 60000)
    w.add_int16("t.i16", -30000)
    w.add_uint32("t.u32", 4000000000)
    w.add_int32("t.i32", -2000000000)
    w.add_float32("t.f32", 0.15625)
    w.add_uint64("t.u64", 18446744073709551615)
    w.add_int64("t.i64", -9223372036854775807)
    w.add_float64("t.f64", 1e-300)
    w.add_bool("t.bool", True)
    w.add_string("t.str", "héllo\nwörld ☃")
    w.add_string("t.empty", "")
    w.add_array("t.strs", [f"tok{i}" for i in range(100)])
    w.add_array("t.ints", [1, -2, 3])
    w.add_array("t.floats", [0.5, 1.5])
    w.add_array("t.nested", [[1, 2], [3, 4, 5]])
    tensors = {}
    x = rng.standard_normal((3, 64)).astype(np.float32)
    tensors["f32"] = (x, None)
    tensors["f16"] = (x.astype(np.float16), None)
    tensors["q8_0"] = (quants.quantize(rng.standard_normal((5, 96)).astype(np.float32), T.Q8_0), T.Q8_0)
    tensors["q4_0.3d"] = (quants.quantize(rng.standard_normal((2, 3, 64)).astype(np.float32), T.Q4_0), T.Q4_0)
    tensors["q4_k"] = (random_blocks(T.Q4_K, 6, rng).reshape(3, 2 * 144), T.Q4_K)
    tensors["q6_k"] = (random_blocks(T.Q6_K, 4, rng).reshape(4, 210), T.Q6_K)
    tensors["iq4_nl"] = (random_blocks(T.IQ4_NL, 8, rng).reshape(2, 4 * 18), T.IQ4_NL)
    for name, (data, qtype) in tensors.items():
        w.add_tensor(name, data, raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def as_python(field):
    """A ReaderField's value as plain Python, nested arrays included."""
    return field.contents()


def test_inspect_json_matches_gguf_reader(sample):
    res = qlm("inspect", sample, "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    ref = GGUFReader(sample)
    assert doc["file_size"] == sample.stat().st_size
    assert doc["architecture"] == "llama"
    meta = {m["key"]: m for m in doc["metadata"]}
    for key, field in ref.fields.items():
        if key.startswith("GGUF."):
            continue
        assert key in meta, key
        want = as_python(field)
        got = meta[key]["value"]
        if isinstance(got, dict):  # summarised long array: count plus the head
            assert got["count"] == len(want)
            assert got["head"] == want[: len(got["head"])]
        elif isinstance(want, float):
            assert got == pytest.approx(want, rel=0, abs=0), key
        elif key == "t.nested":
            # gguf's reader flattens nested arrays; the nesting is checked against what was written
            assert got == [[1, 2], [3, 4, 5]]
            assert [v for sub in got for v in sub] == want
        else:
            assert got == want, key
    assert len(doc["tensors"]) == len(ref.tensors)
    for got, t in zip(doc["tensors"], ref.tensors):
        assert got["name"] == t.name
        assert got["type"] == t.tensor_type.name
        assert got["shape"] == [int(d) for d in t.shape]
        assert got["bytes"] == int(t.n_bytes)
        assert got["offset"] == int(t.data_offset)
    assert doc["parameters"] == sum(int(t.n_elements) for t in ref.tensors)
    totals = doc["totals_by_type"]
    assert totals["Q4_K"]["tensors"] == 1 and totals["F32"]["elements"] == 3 * 64


def test_inspect_text(sample):
    res = qlm("inspect", sample)
    assert res.returncode == 0, res.stderr
    for needle in ["architecture:  llama", "t.strs", "... (100 items)", "q4_0.3d", "totals by type", "IQ4_NL"]:
        assert needle in res.stdout, needle


def test_dump_every_tensor_matches_gguf(sample, tmp_path):
    ref = GGUFReader(sample)
    for t in ref.tensors:
        out = tmp_path / f"{t.name}.npy"
        res = qlm("dump", sample, t.name, "-o", out)
        assert res.returncode == 0, res.stderr
        ours = np.load(out)
        want = t.data.astype(np.float32) if t.tensor_type in (T.F32, T.F16) else quants.dequantize(t.data, t.tensor_type)
        assert ours.dtype == np.float32
        assert ours.shape == want.shape, t.name
        assert np.array_equal(ours.view(np.uint32), want.astype(np.float32).view(np.uint32)), t.name


def test_errors_are_clear_and_never_crash(sample, tmp_path):
    res = qlm("inspect", tmp_path / "missing.gguf")
    assert res.returncode == 1 and "missing.gguf" in res.stderr

    res = qlm("dump", sample, "no.such.tensor", "-o", tmp_path / "x.npy")
    assert res.returncode == 1 and "no.such.tensor" in res.stderr

    data = sample.read_bytes()
    last = GGUFReader(sample).tensors[-1]
    end_of_data = int(last.data_offset) + int(last.n_bytes)  # what follows is only padding
    for cut in [0, 3, 4, 8, 23, 24, 100, len(data) // 2, end_of_data - 1]:
        bad = tmp_path / f"cut{cut}.gguf"
        bad.write_bytes(data[:cut])
        res = qlm("inspect", bad)
        assert res.returncode == 1, (cut, res.returncode, res.stderr)
        assert "error" in res.stderr and str(bad) in res.stderr

    flipped = bytearray(data)
    flipped[0:4] = b"GGUX"
    bad = tmp_path / "magic.gguf"
    bad.write_bytes(bytes(flipped))
    res = qlm("inspect", bad)
    assert res.returncode == 1 and "offset 0" in res.stderr

    res = qlm("inspect")
    assert res.returncode not in (0, 1) and res.returncode > 0  # usage error


def test_default_model_inspect(tmp_path):
    if not MODEL or not os.path.exists(MODEL):
        pytest.skip(f"default model not found at {MODEL!r}")
    res = qlm("inspect", MODEL, "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    ref = GGUFReader(MODEL)
    assert doc["architecture"] == "gemma3"
    assert doc["parameters"] == sum(int(t.n_elements) for t in ref.tensors)
    assert len(doc["tensors"]) == len(ref.tensors)
    tokens = next(m for m in doc["metadata"] if m["key"] == "tokenizer.ggml.tokens")
    assert tokens["value"]["count"] == len(ref.fields["tokenizer.ggml.tokens"].data)


def test_bench_kernels_json_smoke():
    # Only that it runs and reports every asked-for record; timing is never asserted.
    res = qlm("bench", "kernels", "--types", "Q4_0,Q6_K", "--shapes", "64x256,32x512", "--m", "1,3", "--reps", "1",
              "-t", "1", "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["threads"] == 1 and doc["read_bandwidth_gbps"] > 0
    assert len(doc["results"]) == 2 * 2 * 2
    assert {r["type"] for r in doc["results"]} == {"Q4_0", "Q6_K"}
    assert all(r["us"] > 0 and r["gbps"] > 0 for r in doc["results"])
    bad = qlm("bench", "kernels", "--types", "Q9_9")
    assert bad.returncode == 1 and "Q9_9" in bad.stderr
