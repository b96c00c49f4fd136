"""The on-disk dataset cache: one safetensors file per dataset, named by its config's hash.

The cache folder is ``$ALIGNLAB_CACHE`` if set, else ``~/.cache/alignlab``; each dataset family
uses a subfolder. Files are written to a temporary name in the same folder and renamed into place
(atomic), so concurrent builders of one dataset and crashes leave either a whole file or none.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch

from alignlab import _io
from alignlab._io import cache_root  # noqa: F401 (re-exported: the data layer's cache)


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no spaces: equal objects give equal text."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def content_hash(obj: Any, length: int = 16) -> str:
    """SHA-256 of the canonical JSON of ``obj``, as ``length`` hex characters.

    >>> content_hash({"b": 1, "a": 2}) == content_hash({"a": 2, "b": 1})
    True
    """
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()[:length]


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    _io.atomic_write_bytes(path, data)

def save_tensors(path: Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """Store ``tensors`` and ``meta`` (kept as one canonical-JSON string) atomically."""
    from safetensors.torch import save

    data = save(
        {k: v.contiguous() for k, v in tensors.items()}, metadata={"alignlab": canonical_json(meta)}
    )
    atomic_write_bytes(path, data)


def load_tensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]] | None:
    """``(tensors, meta)`` stored at ``path``, or None if it is missing or unreadable."""
    from safetensors import safe_open

    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = json.loads((f.metadata() or {}).get("alignlab", "null"))
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (not a dict)
    except Exception:  # a truncated or foreign file: treat as absent and rebuild
        return None
    return (tensors, meta) if isinstance(meta, dict) else None
