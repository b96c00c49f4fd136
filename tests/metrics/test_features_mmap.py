"""Memory-mapped feature files hold the same values as the arrays saved, and align the same."""

import struct

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from alignlab.features_io import load_layers
from alignlab.metrics import align_layers_multi

RNG = np.random.default_rng(0)
STACK = RNG.normal(size=(80, 3, 6)).astype(np.float32)  # (n, L, d)


def test_npy_stack_mapped_equals_the_array(tmp_path):
    np.save(tmp_path / "a.npy", STACK)
    mapped = load_layers(tmp_path / "a.npy", mmap=True)
    assert len(mapped) == 3
    for i, t in enumerate(mapped):
        np.testing.assert_array_equal(t.numpy(), STACK[:, i, :])
    np.save(tmp_path / "h.npy", STACK[:, 0].astype(np.float16))  # half: converted to float32
    (half,) = load_layers(tmp_path / "h.npy", mmap=True)
    assert half.dtype == torch.float32
    np.testing.assert_array_equal(half.numpy(), STACK[:, 0].astype(np.float16).astype(np.float32))


def test_directory_of_npy_in_natural_order(tmp_path):
    for i in (10, 2, 1):
        np.save(tmp_path / f"layer{i}.npy", np.full((5, i), float(i), dtype=np.float32))
    layers = load_layers(tmp_path, mmap=True)
    assert [t.shape[1] for t in layers] == [1, 2, 10]
    assert [float(t[0, 0]) for t in load_layers(tmp_path)] == [1.0, 2.0, 10.0]
    (tmp_path / "sub").mkdir()
    np.save(tmp_path / "sub" / "x.npy", STACK)
    with pytest.raises(ValueError, match=r"x.npy has shape \(80, 3, 6\); in a directory each"):
        load_layers(tmp_path / "sub")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16, torch.float64])
def test_safetensors_mapped_equals_load_file(tmp_path, dtype):
    tensors = {f"layer{i}": torch.tensor(STACK[:, i] * (i + 1)).to(dtype) for i in range(3)}
    tensors["layer10"] = torch.tensor(STACK[:, 0]).to(dtype)
    save_file(tensors, tmp_path / "f.safetensors", metadata={"model": "x"})
    mapped = load_layers(tmp_path / "f.safetensors", mmap=True)
    read = load_layers(tmp_path / "f.safetensors")
    expected = [load_file(tmp_path / "f.safetensors")[f"layer{i}"] for i in (0, 1, 2, 10)]
    assert len(mapped) == len(read) == 4
    for m, r, e in zip(mapped, read, expected, strict=True):
        assert torch.equal(m, r) and torch.equal(m, e.float() if e.dtype != torch.float64 else e)


def test_bad_safetensors_files_say_what_is_wrong(tmp_path):
    save_file({"a": torch.zeros(20, 4)}, tmp_path / "t.safetensors")
    data = (tmp_path / "t.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[:-8])
    with pytest.raises(ValueError, match=r"cut.safetensors is truncated: 'a' ends past"):
        load_layers(tmp_path / "cut.safetensors", mmap=True)
    (tmp_path / "g.safetensors").write_bytes(struct.pack("<Q", 10**9) + b"{")
    with pytest.raises(ValueError, match=r"g.safetensors is not a safetensors file"):
        load_layers(tmp_path / "g.safetensors", mmap=True)


def test_alignment_of_mapped_files_equals_in_memory_arrays(tmp_path):
    other = RNG.normal(size=(80, 2, 5)).astype(np.float32)
    np.save(tmp_path / "a.npy", STACK)
    save_file({f"l{i}": torch.from_numpy(other[:, i].copy()) for i in range(2)},
              tmp_path / "b.safetensors")  # fmt: skip
    specs = {"mutual_knn": {"k": 5}, "cka": {}}
    mapped = align_layers_multi(
        load_layers(tmp_path / "a.npy", mmap=True),
        load_layers(tmp_path / "b.safetensors", mmap=True),
        specs,
        device="cpu",
    )
    plain = align_layers_multi(STACK, [other[:, 0], other[:, 1]], specs, device="cpu")
    for m in specs:
        np.testing.assert_array_equal(mapped[m].matrix, plain[m].matrix)
