"""Tiny files in the layout of MultiBench's released ones, made by the tests themselves.

The affective pickles follow the layout facts written in docs/datasets.md, not alignlab's own
table: feature sizes per released file, every modality left-padded with zeros on its own to 50
steps, labels of shape (N, 1, 1), ids as 'vid[seg]' strings (MOSI, MOSEI) or arrays (UR-FUNNY,
MUStARD), and -inf in the audio.
"""

import pickle

import numpy as np
import pytest

# Released files and their (vision, audio, text) feature sizes, from docs/datasets.md.
RELEASED = {
    "mosi": {"mosi_data.pkl": (20, 5, 300), "mosi_raw.pkl": (35, 74, 300)},
    "mosei": {"mosei_senti_data.pkl": (35, 74, 300)},
    "urfunny": {"humor.pkl": (371, 81, 300)},
    "mustard": {"sarcasm.pkl": (371, 81, 300)},
}
TASKS = {"mosi": "regression", "mosei": "regression", "urfunny": "classification",
         "mustard": "classification"}  # fmt: skip
MODALITIES = ("vision", "audio", "text")
SIZES = {"train": 12, "valid": 5, "test": 5}
STEPS = 50  # the released files are padded to 50 steps


def default_file(name: str) -> str:
    return next(iter(RELEASED[name]))


def affective_dict(
    name: str, file: str | None = None, seed: int = 0, labels: str = "nested", steps: int = STEPS
):
    """A dict as the released pickle ``file`` (default: the dataset's first) holds it.

    Per split and sample, text has 3..steps real steps (sample 1: all of them) and vision and
    audio each their own length, up to 4 steps more or fewer, all left-padded with zeros.
    Vision and audio have a mean and scale of their own per feature; vision's last feature is
    tiny (std about 1e-7). Audio is -inf at two real steps of sample 1. Sample 0 of train
    has no text (dropped) and vision and audio 10 units higher. ``labels``: "nested" (N, 1, 1),
    "column" (N, 1), "multi" (N, 1, 3) whose first value is the label, or "bool" (N, 1, 1).
    """
    sizes = dict(zip(MODALITIES, RELEASED[name][file or default_file(name)], strict=True))
    rng = np.random.default_rng(seed)
    loc = {m: rng.normal(2.0, 3.0, f) for m, f in sizes.items()}
    scale = {m: rng.uniform(0.5, 3.0, f) for m, f in sizes.items()}
    raw = {}
    for split, n in SIZES.items():
        real_text = rng.integers(3, steps + 1, size=n)
        real_text[1] = steps
        part = {}
        for m, f in sizes.items():
            x = rng.normal(loc[m], scale[m], size=(n, steps, f))
            if m == "vision":
                x[:, :, -1] = rng.normal(0.0, 1e-7, size=(n, steps))
            shift = np.zeros(n, int) if m == "text" else rng.integers(-4, 5, size=n)
            real = np.clip(real_text + shift, 1, steps)
            for i in range(n):
                x[i, : steps - real[i]] = 0.0  # left padding, this modality's own
            part[m] = x.astype(np.float32)
        part["audio"][1, -2, 0] = part["audio"][1, 10, -1] = -np.inf  # real steps of sample 1
        if split == "train":
            part["text"][0] = 0.0
            part["vision"][0, :, :-1] += np.float32(10.0)  # the tiny feature stays tiny
            part["audio"][0] += np.float32(10.0)
        if TASKS[name] == "regression":
            y = rng.uniform(-3, 3, size=n).astype(np.float32)
        else:
            y = (np.arange(n) % 2).astype(np.float32)  # both classes in every split
            rng.shuffle(y)
        part["labels"] = {
            "nested": y.reshape(n, 1, 1),
            "column": y.reshape(n, 1),
            "multi": np.stack([y, y + 7, y - 7], axis=1).reshape(n, 1, 3),
            "bool": (y > 0).reshape(n, 1, 1),
        }[labels]
        if name in ("mosi", "mosei"):
            part["id"] = np.array([f"vid{i // 3}[{i % 3}]" for i in range(n)])
        else:
            part["id"] = np.arange(2 * n).reshape(n, 2)
        raw[split] = part
    return raw


@pytest.fixture
def write_affective(tmp_path):
    """write_affective(name, raw=None, file=None, **kwargs) -> path of the pickle under the
    released file name (``file``, default the dataset's first)."""

    def write(name: str, raw=None, file: str | None = None, **kwargs):
        file = file or default_file(name)
        raw = affective_dict(name, file, **kwargs) if raw is None else raw
        path = tmp_path / file
        with open(path, "wb") as f:
            pickle.dump(raw, f)
        return path

    return write


@pytest.fixture
def avmnist_folder(tmp_path):
    """An AVMNIST folder in MultiBench's layout: 30 train and 10 test samples."""

    def make(n_train: int = 30, n_test: int = 10, audio_layout: str = "librosa", seed: int = 0):
        rng = np.random.default_rng(seed)
        root = tmp_path / "avmnist"
        (root / "image").mkdir(parents=True, exist_ok=True)
        (root / "audio").mkdir(exist_ok=True)
        for split, n in (("train", n_train), ("test", n_test)):
            np.save(
                root / "image" / f"{split}_data.npy", rng.integers(0, 256, (n, 784)).astype(float)
            )
            shape = (n, 36, 20) if audio_layout == "librosa" else (n, 20, 36)
            np.save(root / "audio" / f"{split}_data.npy", rng.normal(5.0, 2.0, shape))
            np.save(root / f"{split}_labels.npy", (np.arange(n) % 10).reshape(n, 1))
        return root

    return make
