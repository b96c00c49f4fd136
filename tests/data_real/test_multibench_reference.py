"""The paper's preprocessing of the affective pickles against a plain reference written here,
one sample and one step at a time, on files built the way the released ones are."""

import numpy as np
import pytest

from alignlab.data.multibench import load_affective_all

from .conftest import MODALITIES, RELEASED, TASKS, affective_dict

SEQ_LEN = 50
SPLITS = {"train": "train", "val": "valid", "test": "test"}


def reference_stats(samples, floor):
    """Per-feature mean and population std of a list of (F,) steps; a std below ``floor`` (or
    exactly 0) becomes 1."""
    total = np.zeros_like(samples[0], dtype=np.float64)
    for step in samples:
        total += step
    mean = total / len(samples)
    square = np.zeros_like(mean)
    for step in samples:
        square += (step - mean) ** 2
    std = np.sqrt(square / len(samples))
    for f in range(len(std)):
        if std[f] < floor or std[f] == 0:
            std[f] = 1.0
    return mean, std


def reference(raw, name, normalization):
    """split -> (per modality (n, 50, F) arrays, mask (n, 50), y (n,)), plainly."""
    clean = {}
    for split, part in raw.items():
        clean[split] = {m: np.array(part[m], dtype=np.float64) for m in MODALITIES}
        audio = clean[split]["audio"]
        audio[np.isneginf(audio)] = 0.0
    kept = {}
    for split, part in clean.items():
        rows = []
        for i in range(len(part["text"])):
            text = part["text"][i]
            real = [t for t in range(len(text)) if np.any(text[t] != 0)]
            if not real:
                continue  # no text: dropped
            start = real[0]
            row = {"mask": np.zeros(SEQ_LEN, bool)}
            for m in MODALITIES:
                row[m] = np.zeros((SEQ_LEN, part[m].shape[2]))
            for k in range(SEQ_LEN):
                if start + k < len(text):
                    row["mask"][k] = True
                    for m in MODALITIES:
                        row[m][k] = part[m][i, start + k]
            label = np.asarray(raw[split]["labels"][i], dtype=np.float64).reshape(-1)[0]
            row["y"] = label if TASKS[name] == "regression" else int(label > 0)
            rows.append(row)
        kept[split] = rows
    stats = {}
    for m in ("vision", "audio"):
        if normalization == "release":  # every stored training sample, first 50 stored steps
            steps = [x[t] for x in clean["train"][m] for t in range(min(SEQ_LEN, len(x)))]
            stats[m] = reference_stats(steps, floor=0.0)
        else:  # the real steps kept after cropping
            steps = [r[m][k] for r in kept["train"] for k in range(SEQ_LEN) if r["mask"][k]]
            stats[m] = reference_stats(steps, floor=1e-6)
    out = {}
    for split, rows in kept.items():
        for r in rows:
            for m in ("vision", "audio"):
                mean, std = stats[m]
                for k in range(SEQ_LEN):
                    r[m][k] = (r[m][k] - mean) / std if r["mask"][k] else 0.0
        arrays = {m: np.stack([r[m] for r in rows]) for m in MODALITIES}
        out[split] = (arrays, np.stack([r["mask"] for r in rows]), np.array([r["y"] for r in rows]))
    return out, stats


CASES = [(name, file) for name, files in RELEASED.items() for file in files]


@pytest.mark.parametrize("normalization", ["release", "real_steps"])
@pytest.mark.parametrize(("name", "file"), CASES)
def test_preprocessing_matches_the_plain_reference(name, file, normalization, write_affective):
    raw = affective_dict(name, file, seed=len(file))
    data = load_affective_all(name, write_affective(name, raw, file), normalization=normalization)
    assert data.layout == file and data.source.name == file
    assert data.normalization == normalization
    expected, _ = reference(raw, name, normalization)
    for split, pkey in SPLITS.items():
        arrays, mask, y = expected[pkey]
        d = data.splits[split]
        np.testing.assert_array_equal(d["mask"].numpy(), mask)
        np.testing.assert_array_equal(d["y"].numpy(), y.astype(d["y"].numpy().dtype))
        for m in MODALITIES:
            np.testing.assert_allclose(d[m].numpy(), arrays[m], rtol=2e-5, atol=2e-5)


def test_release_statistics_count_padding_and_dropped_samples(write_affective):
    """The release's statistics differ from the real steps' ones by exactly what they include:
    the left padding and the sample dropped for having no text."""
    raw = affective_dict("mosi", "mosi_data.pkl")
    _, release = reference(raw, "mosi", "release")
    _, real = reference(raw, "mosi", "real_steps")
    vision = raw["train"]["vision"].astype(np.float64)
    assert np.allclose(release["vision"][0], vision.reshape(-1, 20).mean(0))
    assert not np.allclose(release["vision"][0], real["vision"][0], rtol=0.05)
    tiny = release["vision"][1][-1]
    assert 1e-8 < tiny < 1e-6 and real["vision"][1][-1] == 1.0  # no floor vs the 1e-6 floor
    data = load_affective_all("mosi", write_affective("mosi", raw))
    d = data.splits["train"]
    real_steps = d["vision"][d["mask"]].double()
    assert real_steps[:, :-1].mean(0).abs().max() > 0.1  # release: real steps are not centred
    assert real_steps[:, -1].abs().max() > 0.1  # the tiny feature is scaled up, not centred


def test_real_steps_are_standardised_with_real_steps(write_affective):
    data = load_affective_all("mustard", write_affective("mustard"), normalization="real_steps")
    d = data.splits["train"]
    for m in ("vision", "audio"):
        real = d[m][d["mask"]].double()  # (real steps, F)
        assert real.mean(0).abs().max() < 1e-5
        scaled = real[:, :-1] if m == "vision" else real
        assert ((scaled.std(0, unbiased=False) - 1).abs() < 1e-4).all()
    tiny = d["vision"][d["mask"]][:, -1].double()  # std about 1e-7: below the floor, centred only
    assert tiny.abs().max() < 1e-6 and tiny.std(unbiased=False) > 1e-8
    v = data.splits["val"]  # validation uses the training statistics
    assert v["vision"][v["mask"]].double().mean(0).abs().max() > 1e-5
