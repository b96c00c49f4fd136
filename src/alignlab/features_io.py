"""Load a model's per-layer features from ``.npy``, ``.npz`` or ``.safetensors`` files.

Layouts (n samples, L layers):

- one array of shape ``(n, d)``: one layer;
- one array of shape ``(n, L, d)``: L layers of the same width;
- ``.npz`` / ``.safetensors`` with several arrays: one ``(n, d_l)`` layer per array, ordered by
  name in natural order (``layer2`` before ``layer10``; ``arr_0, arr_1, ...`` as saved);
- a directory of ``.npy`` files: one ``(n, d_l)`` layer per file, in natural order of names.

With ``mmap=True`` (what ``alignlab align`` uses) ``.npy`` files, directories of them and
``.safetensors`` files are memory-mapped copy-on-write: a layer's values are read from disk
when the engine touches them, so files larger than memory can be aligned (the streaming engine
then reads each layer once per block of samples). Float32 and float64 stay mapped; float16 and
bfloat16 layers are converted to float32 in memory one layer at a time. ``.npz`` archives are
compressed or zipped and are always read whole.
"""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path

import numpy as np
import torch

SUFFIXES = (".npy", ".npz", ".safetensors")


def _natural_key(name: str) -> list[object]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _split_layers(array: torch.Tensor, where: str) -> list[torch.Tensor]:
    if array.ndim == 2:
        return [array]
    if array.ndim == 3:
        return [array[:, i, :] for i in range(array.shape[1])]  # (n, L, d) -> L x (n, d)
    raise ValueError(
        f"{where} has shape {tuple(array.shape)}; expected (n, d) for one layer or (n, layers, d)."
    )


def _to_tensor(array: np.ndarray | torch.Tensor, where: str) -> torch.Tensor:
    if isinstance(array, np.ndarray):
        if array.dtype.kind not in "biuf":
            raise ValueError(f"{where} holds {array.dtype} values; expected real numbers.")
        array = torch.from_numpy(np.ascontiguousarray(array))
    if array.dtype in (torch.bfloat16, torch.float16):
        array = array.float()  # half precision is a storage format, not a compute one
    return array


ST_DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "BF16": np.uint16}
ST_DTYPES |= {"I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8}


def _safetensors_mmap(path: Path) -> dict[str, torch.Tensor]:
    """The arrays of a ``.safetensors`` file, memory-mapped (header parsed here, no copy)."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(8)
        length = struct.unpack("<Q", head)[0] if len(head) == 8 else -1
        if not 0 < length <= size - 8:
            raise ValueError(f"{path} is not a safetensors file: its header length is invalid.")
        try:
            header = json.loads(fh.read(length))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path} is not a safetensors file: bad header ({exc}).") from None
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        kind, shape, (start, end) = info["dtype"], tuple(info["shape"]), info["data_offsets"]
        if kind not in ST_DTYPES:
            raise ValueError(f"{path}[{name!r}] holds {kind} values; expected real numbers.")
        if 8 + length + end > size:
            raise ValueError(f"{path} is truncated: {name!r} ends past the end of the file.")
        arr = np.memmap(path, ST_DTYPES[kind], "c", offset=8 + length + start, shape=shape)
        t = torch.from_numpy(arr)
        out[name] = t.view(torch.bfloat16).float() if kind == "BF16" else t
    return out


def _npy_dir(path: Path, mmap: bool) -> list[torch.Tensor]:
    files = sorted(
        (f for f in path.iterdir() if f.suffix == ".npy"), key=lambda f: _natural_key(f.name)
    )
    if not files:
        raise ValueError(f"{path} is a directory without .npy files; expected one file per layer.")
    layers = []
    for f in files:
        t = _to_tensor(np.load(f, mmap_mode="c" if mmap else None, allow_pickle=False), str(f))
        if t.ndim != 2:
            raise ValueError(
                f"{f} has shape {tuple(t.shape)}; in a directory each file is one layer (n, d)."
            )
        layers.append(t)
    return layers


def load_layers(path: str | Path, *, mmap: bool = False) -> list[torch.Tensor]:
    """Per-layer features of one model, as a list of ``(n, d_l)`` tensors.

    ``mmap``: map ``.npy`` / ``.safetensors`` files (and directories of ``.npy`` files) instead
    of reading them (module docstring). Raises ``FileNotFoundError`` for a missing file and
    ``ValueError`` for an unknown suffix, an empty file or a wrong shape.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "feats.npy"
    >>> np.save(path, np.zeros((5, 3, 4), dtype=np.float32))
    >>> [tuple(t.shape) for t in load_layers(path)]
    [(5, 4), (5, 4), (5, 4)]
    >>> bool(load_layers(path, mmap=True)[0].eq(0).all())
    True
    """
    path = Path(path).expanduser()
    if path.is_dir() and any(f.suffix == ".npy" for f in path.iterdir()):
        return _npy_dir(path, mmap)
    if path.suffix not in SUFFIXES:
        raise ValueError(
            f"{path} is not a feature file: expected one of {', '.join(SUFFIXES)}; "
            f"got suffix {path.suffix!r}."
        )
    if not path.is_file():
        raise FileNotFoundError(f"feature file not found: {path}")
    if path.suffix == ".npy":
        array = np.load(path, mmap_mode="c" if mmap else None, allow_pickle=False)
        return _split_layers(_to_tensor(array, str(path)), str(path))
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    elif mmap:
        arrays = _safetensors_mmap(path)
    else:
        from safetensors.torch import load_file

        arrays = load_file(str(path))
    if not arrays:
        raise ValueError(f"{path} holds no arrays; expected one array per layer.")
    names = sorted(arrays, key=_natural_key)
    if len(names) == 1:
        return _split_layers(_to_tensor(arrays[names[0]], str(path)), str(path))
    layers = []
    for name in names:
        where = f"{path}[{name!r}]"
        t = _to_tensor(arrays[name], where)
        if t.ndim != 2:
            raise ValueError(
                f"{where} has shape {tuple(t.shape)}; with several arrays in one file, each "
                "must be one layer of shape (n, d)."
            )
        layers.append(t)
    return layers
