"""Sequence helpers shared by the real-data loaders: crop and pad with a mask, masked z-scoring,
image patches.

Every function takes and returns NumPy arrays; the loaders turn the results into tensors.
"""

from __future__ import annotations

import numpy as np

STD_FLOOR = 1e-6  # a feature whose training std is below this is only centred, not scaled


def first_real_step(x: np.ndarray) -> np.ndarray:
    """Index of the first time step with any non-zero feature, per sample.

    Parameters
    ----------
    x : ndarray of shape (n, T, F)

    Returns
    -------
    int64 ndarray of shape (n,), in 0..T; T for a sample that is zero everywhere.

    >>> x = np.zeros((2, 4, 1)); x[0, 2:] = 1.0
    >>> first_real_step(x).tolist()
    [2, 4]
    """
    nonzero = (x != 0).any(axis=2)  # (n, T)
    return np.where(nonzero.any(axis=1), nonzero.argmax(axis=1), x.shape[1]).astype(np.int64)


def crop_and_pad(x: np.ndarray, start: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Keep steps ``start[i]`` .. ``start[i] + length - 1`` of each sample, moved to the front and
    zero-padded at the end, with a mask of the kept steps.

    Parameters
    ----------
    x : ndarray of shape (n, T, F)
    start : int ndarray of shape (n,), in 0..T
        First real step of each sample (steps before it are padding in the source).
    length : int
        Output length L: longer sequences are cut at the end, shorter ones padded at the end.

    Returns
    -------
    out : ndarray of shape (n, L, F), x's dtype
    mask : bool ndarray of shape (n, L), True where ``out`` holds a real step.

    >>> x = np.arange(6, dtype=float).reshape(1, 6, 1)
    >>> out, mask = crop_and_pad(x, np.array([4]), 3)
    >>> out[0, :, 0].tolist(), mask[0].tolist()
    ([4.0, 5.0, 0.0], [True, True, False])
    """
    n, t, _ = x.shape
    steps = start[:, None] + np.arange(length)[None, :]  # (n, L) source step of each output step
    mask = steps < t
    gathered = x[np.arange(n)[:, None], np.minimum(steps, t - 1)]  # (n, L, F)
    out = np.where(mask[:, :, None], gathered, np.zeros((), dtype=x.dtype))
    return out, mask


def masked_stats(
    x: np.ndarray, mask: np.ndarray | None, floor: float = STD_FLOOR
) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and standard deviation over the real steps of all samples.

    Parameters
    ----------
    x : ndarray of shape (n, T, F)
    mask : bool ndarray of shape (n, T) or None (every step counts)
    floor : a std below it (a near-constant feature) is replaced by 1, so that feature is only
        centred. 0 keeps every std but an exact 0, which would divide by zero.

    Returns
    -------
    mean, std : float64 ndarrays of shape (F,); std is the population std (ddof 0).

    >>> x = np.array([[[1.0], [3.0], [100.0]]]); m = np.array([[True, True, False]])
    >>> [a.tolist() for a in masked_stats(x, m)]
    [[2.0], [1.0]]
    >>> masked_stats(np.array([[[0.0], [1e-7]]]), None, floor=0.0)[1].tolist()
    [5e-08]
    """
    flat = x.reshape(-1, x.shape[-1]).astype(np.float64)
    if mask is not None:
        flat = flat[mask.reshape(-1)]
    if flat.shape[0] == 0:
        raise ValueError("cannot compute z-score statistics: the training split has no real steps")
    mean = flat.mean(axis=0)
    std = flat.std(axis=0)
    return mean, np.where((std < floor) | (std == 0), 1.0, std)


def apply_zscore(
    x: np.ndarray, mask: np.ndarray | None, mean: np.ndarray, std: np.ndarray
) -> np.ndarray:
    """``(x - mean) / std`` as float32, with padding steps (mask False) set back to 0.

    Shapes as in :func:`masked_stats`; returns an array of x's shape.

    >>> z = apply_zscore(np.ones((1, 2, 1)), np.array([[True, False]]), np.zeros(1), np.ones(1))
    >>> z[0, :, 0].tolist()
    [1.0, 0.0]
    """
    z = ((x - mean) / std).astype(np.float32)
    if mask is not None:
        z[~mask] = 0.0
    return z


def patchify(images: np.ndarray, patch: int) -> np.ndarray:
    """Cut square images into non-overlapping ``patch`` x ``patch`` tokens, row-major.

    Parameters
    ----------
    images : ndarray of shape (n, H, W), H and W multiples of ``patch``

    Returns
    -------
    ndarray of shape (n, (H / patch) * (W / patch), patch * patch): token ``k`` is the patch in
    grid row ``k // (W / patch)`` and column ``k % (W / patch)``, its pixels row-major.

    >>> patchify(np.zeros((5, 28, 28)), 4).shape
    (5, 49, 16)
    >>> patchify(np.arange(16.0).reshape(1, 4, 4), 2)[0, 1].tolist()
    [2.0, 3.0, 6.0, 7.0]
    """
    n, h, w = images.shape
    if h % patch or w % patch:
        raise ValueError(f"images of {h} x {w} pixels do not split into {patch} x {patch} patches")
    grid = images.reshape(n, h // patch, patch, w // patch, patch)  # (n, gh, p, gw, p)
    return grid.transpose(0, 1, 3, 2, 4).reshape(n, (h // patch) * (w // patch), patch * patch)
