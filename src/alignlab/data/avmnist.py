"""AVMNIST (MNIST digits paired with spoken digits) from its image and audio arrays.

The files read, in MultiBench's ``datasets/avmnist`` folder layout::

    <folder>/image/train_data.npy   (60000, 784) or (60000, 28, 28), pixels 0..255
    <folder>/image/test_data.npy    (10000, ...)
    <folder>/audio/train_data.npy   (60000, 20, 36) MFCC tokens, or (60000, 36, 20) as librosa
    <folder>/audio/test_data.npy    (10000, ...)                      returns them (transposed)
    <folder>/train_labels.npy       (60000,) or (60000, 1), integer digits 0..9
    <folder>/test_labels.npy        (10000,)

The audio arrays are the paper's own MFCC download (36 MFCCs x 20 frames per FSDD clip), put
in place of MultiBench's: MultiBench's AVMNIST release stores the audio as 112 x 112
spectrogram images instead, and those are refused with an explanation rather than converted.

Validation is the last ``n_val`` (5,000) training samples, as MultiBench's loader does, giving
55,000 / 5,000 / 10,000. Preprocessing: image / 255 (skipped if the stored images are already
in [0, 1]) cut into 4 x 4 patches, 49 tokens of 16; audio 20 tokens of 36 MFCCs, z-scored with
training statistics per MFCC coefficient, over the sample and frame axes (as the release
normalises its MFCC arrays). No masks: every sequence is full length.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from alignlab.data._multibench_io import ENV_DIR, MULTIBENCH_URL, find_file
from alignlab.data._sequences import apply_zscore, masked_stats, patchify
from alignlab.data.paired import PairedDataset, Split

N_MFCC, N_FRAMES = 36, 20
FSDD_URL = "https://github.com/Jakobovski/free-spoken-digit-dataset"


def avmnist_files(folder: str | Path | None) -> dict[str, Path]:
    """The six AVMNIST arrays under ``folder`` (or ``$ALIGNLAB_MULTIBENCH_DIR/avmnist``).

    Raises FileNotFoundError naming the first missing file, where it was looked for and where
    the dataset is published.
    """
    if folder is None:
        folder = Path(os.environ[ENV_DIR]) / "avmnist" if os.environ.get(ENV_DIR) else None
    names = {
        "train_image": "image/train_data.npy",
        "test_image": "image/test_data.npy",
        "train_audio": "audio/train_data.npy",
        "test_audio": "audio/test_data.npy",
        "train_labels": "train_labels.npy",
        "test_labels": "test_labels.npy",
    }
    if folder is not None and not Path(folder).expanduser().is_dir():
        raise FileNotFoundError(
            f"avmnist: folder {folder} not found; it must hold {', '.join(names.values())}. "
            f"AVMNIST is distributed with MultiBench ({MULTIBENCH_URL}, datasets/avmnist); its "
            f"audio comes from FSDD ({FSDD_URL})"
        )
    return {k: find_file(v, folder, "avmnist") for k, v in names.items()}


def load_avmnist(folder: str | Path | None = None, *, n_val: int = 5000) -> PairedDataset:
    """AVMNIST as a :class:`PairedDataset` of modalities ("image", "audio").

    Parameters
    ----------
    folder : the AVMNIST folder (layout in the module docstring); None is
        ``$ALIGNLAB_MULTIBENCH_DIR/avmnist``
    n_val : the last ``n_val`` training samples form the validation split (5,000)

    Returns
    -------
    PairedDataset with per split ``x1`` float32 (n, 49, 16) image patches in [0, 1], ``x2``
    float32 (n, 20, 36) z-scored MFCC tokens, ``y`` int64 (n,) digits; no masks; 10 classes.
    """
    files = avmnist_files(folder)
    parts = {}
    for split in ("train", "test"):
        image = _images(np.load(files[f"{split}_image"]), split)
        audio = _audio(np.load(files[f"{split}_audio"]), split)
        y = _digits(np.load(files[f"{split}_labels"]), split)
        counts = {"image": len(image), "audio": len(audio), "labels": len(y)}
        if len(set(counts.values())) > 1:
            raise ValueError(f"avmnist {split}: sample counts disagree: {counts}")
        parts[split] = (image, audio, y)
    return avmnist_from_arrays(parts["train"], parts["test"], n_val=n_val)


def avmnist_from_arrays(
    train: tuple[np.ndarray, np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray, np.ndarray],
    *,
    n_val: int = 5000,
    patch: int = 4,
    name: str = "avmnist",
) -> PairedDataset:
    """The work of :func:`load_avmnist` on validated arrays: ``(images (n, H, W) in [0, 1],
    audio (n, 20, 36), digits (n,))`` for train (validation carved from its end) and test;
    images are cut into ``patch`` x ``patch`` tokens.

    >>> rng = np.random.default_rng(0)
    >>> part = lambda n: (rng.random((n, 28, 28)), rng.normal(size=(n, 20, 36)), np.arange(n) % 10)
    >>> data = avmnist_from_arrays(part(30), part(10), n_val=5)
    >>> len(data.train), len(data.val), data.train.x1.shape[1:], data.test.x2.shape[1:]
    (25, 5, torch.Size([49, 16]), torch.Size([20, 36]))
    """
    image, audio, y = train
    if not 0 < n_val < len(y):
        raise ValueError(f"n_val must be in 1..{len(y) - 1} (training samples - 1), got {n_val}")
    cut = len(y) - n_val
    splits = {
        "train": (image[:cut], audio[:cut], y[:cut]),
        "val": (image[cut:], audio[cut:], y[cut:]),
        "test": test,
    }
    mean, std = masked_stats(splits["train"][1], None)
    out = {}
    for s, (im, au, lab) in splits.items():
        out[s] = Split(
            x1=torch.from_numpy(patchify(im.astype(np.float32), patch)),
            x2=torch.from_numpy(apply_zscore(au, None, mean, std)),
            y=torch.from_numpy(lab.astype(np.int64)),
        )
    return PairedDataset(
        **out, task="classification", n_classes=10, modalities=("image", "audio"), name=name
    )


def _images(x: np.ndarray, split: str) -> np.ndarray:
    """(n, 28, 28) float32 in [0, 1] from (n, 784), (n, 28, 28) or (n, 1, 28, 28) pixels."""
    if x.ndim == 2 and x.shape[1] == 784 or x.ndim == 4 and x.shape[1:] == (1, 28, 28):
        x = x.reshape(len(x), 28, 28)
    if x.ndim != 3 or x.shape[1:] != (28, 28):
        raise ValueError(
            f"avmnist {split} images have shape {x.shape}; expected (n, 784) or (n, 28, 28)"
        )
    x = x.astype(np.float32)
    if not np.isfinite(x).all() or x.min() < 0 or x.max() > 255:
        raise ValueError(f"avmnist {split} images must be pixel values in 0..255")
    return x if x.max() <= 1.0 else x / 255.0


def _audio(x: np.ndarray, split: str) -> np.ndarray:
    """(n, 20, 36) float32 MFCC tokens from (n, 20, 36) or librosa's (n, 36, 20)."""
    if x.ndim == 3 and x.shape[1:] == (N_MFCC, N_FRAMES):
        x = x.transpose(0, 2, 1)
    if x.ndim != 3 or x.shape[1:] != (N_FRAMES, N_MFCC):
        spectrogram = x.shape[1:] in ((112, 112), (1, 112, 112), (112 * 112,))
        raise ValueError(
            f"avmnist {split} audio has shape {x.shape}; expected 20 frames of 36 MFCCs, "
            f"(n, 20, 36) or (n, 36, 20)"
            + (
                ". These look like MultiBench's 112 x 112 spectrograms; the paper used 36 MFCCs "
                f"of the raw FSDD recordings ({FSDD_URL}): compute those with librosa, or use "
                "the offline stand-in `alignlab data avdigits`"
                if spectrogram
                else ""
            )
        )
    x = np.ascontiguousarray(x, dtype=np.float32)
    if not np.isfinite(x).all():
        raise ValueError(f"avmnist {split} audio holds NaN or infinite values")
    return x


def _digits(y: np.ndarray, split: str) -> np.ndarray:
    """(n,) int64 digits from (n,) or (n, 1) integer-valued labels in 0..9."""
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"avmnist {split} labels have shape {y.shape}; expected (n,) or (n, 1)")
    if not np.issubdtype(y.dtype, np.number) or not np.isfinite(y).all():
        raise ValueError(f"avmnist {split} labels must be digits 0..9, got dtype {y.dtype}")
    if (y != np.round(y)).any() or y.min() < 0 or y.max() > 9:
        raise ValueError(
            f"avmnist {split} labels must be integer digits 0..9 (classification), "
            f"got values from {y.min()} to {y.max()}"
        )
    return y.astype(np.int64)
