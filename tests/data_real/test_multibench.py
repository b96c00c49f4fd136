"""MultiBench affective loaders on tiny pickles in the released layout: which file and layout,
shapes, cropping, labels, and a clear error for every malformed input (the preprocessing's
values are checked against a plain reference in test_multibench_reference.py)."""

import pickle

import numpy as np
import pytest
import torch

from alignlab.data.multibench import (
    load_affective,
    load_affective_all,
    prepare_affective,
)

from .conftest import MODALITIES, RELEASED, SIZES, TASKS, affective_dict

CASES = [(name, file) for name, files in RELEASED.items() for file in files]


@pytest.mark.parametrize(("name", "file"), CASES)
def test_shapes_task_masks_and_the_file_used(name, file, write_affective):
    path = write_affective(name, file=file)
    data = load_affective_all(name, path.parent)  # the folder: found by MultiBench's file name
    assert data.task == TASKS[name] and data.dropped == {"train": 1, "val": 0, "test": 0}
    assert data.source == path and data.layout == file
    meta = data.metadata()
    assert meta["source"] == str(path) and meta["layout"] == file
    assert tuple(meta["features"].values()) == RELEASED[name][file]
    assert meta["normalization"] == "release" and meta["dropped_no_text"]["train"] == 1
    for split, n in (("train", SIZES["train"] - 1), ("val", SIZES["valid"]), ("test", 5)):
        d = data.splits[split]
        for m, f in zip(MODALITIES, RELEASED[name][file], strict=True):
            assert d[m].shape == (n, 50, f) and d[m].dtype == torch.float32
            assert torch.isfinite(d[m]).all()
            assert (d[m][~d["mask"]] == 0).all()  # padding stays zero
        assert d["mask"].shape == (n, 50) and d["mask"].dtype == torch.bool
        assert d["y"].dtype == (torch.int64 if TASKS[name] == "classification" else torch.float32)
    pair = data.pair("vision", "text")
    assert pair.modalities == ("vision", "text") and pair.train.x2.shape[2] == 300
    assert pair.n_classes == (2 if TASKS[name] == "classification" else None)
    assert pair.train.mask1 is pair.train.mask2


def test_mosi_folder_prefers_the_papers_file(write_affective):
    raw_path = write_affective("mosi", file="mosi_raw.pkl")
    assert load_affective_all("mosi", raw_path.parent).layout == "mosi_raw.pkl"  # only it there
    data_path = write_affective("mosi", file="mosi_data.pkl")
    both = load_affective_all("mosi", data_path.parent)
    assert both.source == data_path and both.layout == "mosi_data.pkl"
    assert load_affective_all("mosi", raw_path).source == raw_path  # the file itself: used


def test_a_renamed_file_is_known_by_its_feature_sizes(tmp_path):
    raw = affective_dict("mosi", "mosi_raw.pkl")
    path = tmp_path / "my_mosi.pkl"
    with open(path, "wb") as f:
        pickle.dump(raw, f)
    data = load_affective_all("mosi", path)
    assert data.layout == "mosi_raw.pkl" and data.splits["test"]["audio"].shape[2] == 74


def test_unknown_normalization_names_the_choices(write_affective):
    with pytest.raises(ValueError, match=r"normalization must be one of \['real_steps', 'rel"):
        load_affective_all("mosi", write_affective("mosi"), normalization="minmax")


def test_crop_rule_and_text_untouched(write_affective):
    """Real steps start at the first non-zero text step; the first 50 are kept, moved to the
    front; text is not rescaled."""
    raw = affective_dict("mosi", steps=60)  # longer than the release: cut to 50
    data = load_affective_all("mosi", write_affective("mosi", raw))
    text, mask = data.splits["val"]["text"].numpy(), data.splits["val"]["mask"].numpy()
    for i, source in enumerate(raw["valid"]["text"]):
        start = int(np.flatnonzero((source != 0).any(axis=1))[0])
        kept = min(60 - start, 50)
        assert mask[i].sum() == kept and mask[i, :kept].all()
        np.testing.assert_array_equal(text[i, :kept], source[start : start + kept])
    assert mask[1].all()  # a 60-step sample is cut to 50


def test_audio_minus_inf_becomes_zero_before_scaling(write_affective):
    raw = affective_dict("mosei")
    assert np.isneginf(raw["train"]["audio"]).sum() == 2
    data = load_affective_all("mosei", write_affective("mosei", raw))
    ref = {k: dict(v) for k, v in raw.items()}
    for part in ref.values():
        part["audio"] = np.where(np.isneginf(part["audio"]), 0.0, part["audio"])
    expected = prepare_affective("mosei", ref)
    for s in ("train", "val", "test"):
        assert torch.isfinite(data.splits[s]["audio"]).all()
        torch.testing.assert_close(data.splits[s]["audio"], expected.splits[s]["audio"])


def test_classification_labels_minus_one_and_column_shape(write_affective):
    raw = affective_dict("urfunny", labels="column")
    raw["test"]["labels"] = np.where(raw["test"]["labels"] > 0, 1.0, -1.0)
    data = load_affective("humor", write_affective("urfunny", raw), ("audio", "vision"))
    expected = (raw["test"]["labels"][:, 0] > 0).astype(np.int64)
    np.testing.assert_array_equal(data.test.y.numpy(), expected)
    assert data.modalities == ("audio", "vision") and data.name == "urfunny"


def test_regression_labels_keep_their_values(write_affective):
    raw = affective_dict("mosi")
    data = load_affective("mosi", write_affective("mosi", raw), ("text", "audio"))
    np.testing.assert_array_equal(data.val.y.numpy(), raw["valid"]["labels"].reshape(-1))
    assert data.task == "regression"


def test_labels_with_several_values_keep_the_first(write_affective):
    raw = affective_dict("mosei", labels="multi")  # (N, 1, 3): sentiment, then two others
    assert raw["test"]["labels"].shape == (5, 1, 3)
    data = load_affective("mosei", write_affective("mosei", raw), ("text", "vision"))
    np.testing.assert_array_equal(data.test.y.numpy(), raw["test"]["labels"][:, 0, 0])
    raw = affective_dict("mustard", labels="multi")
    data = load_affective("mustard", write_affective("mustard", raw), ("text", "vision"))
    np.testing.assert_array_equal(data.test.y.numpy(), raw["test"]["labels"][:, 0, 0] > 0)


def test_boolean_class_labels(write_affective):
    raw = affective_dict("mustard", labels="bool")
    assert raw["valid"]["labels"].dtype == bool
    data = load_affective("mustard", write_affective("mustard", raw), ("audio", "text"))
    np.testing.assert_array_equal(data.val.y.numpy(), raw["valid"]["labels"].reshape(-1))
    assert data.val.y.dtype == torch.int64


def test_every_pair_of_modalities(write_affective):
    data = load_affective_all("mosi", write_affective("mosi"))
    for a in ("vision", "audio", "text"):
        for b in ("vision", "audio", "text"):
            if a == b:
                with pytest.raises(ValueError, match="two different modalities"):
                    data.pair(a, b)
            else:
                assert data.pair(a, b).train.x1 is data.splits["train"][a]
    with pytest.raises(ValueError, match="modality must be one of"):
        data.pair("video", "text")


def test_seq_len_and_unknown_name(write_affective):
    data = load_affective_all("mosi", write_affective("mosi"), seq_len=8)
    assert data.splits["test"]["text"].shape[1] == 8
    with pytest.raises(ValueError, match="unknown affective dataset 'iemocap'"):
        load_affective_all("iemocap", "x.pkl")


# -- finding the file ---------------------------------------------------------------------------
def test_missing_file_says_which_where_and_where_published(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        load_affective("mosei", tmp_path)
    message = str(err.value)
    assert f"looked for {tmp_path / 'mosei_senti_data.pkl'}" in message
    for words in ("mosi_data.pkl or mosi_raw.pkl", "humor.pkl", "sarcasm.pkl",
                  "github.com/pliang279/MultiBench"):  # fmt: skip
        assert words in message
    with pytest.raises(FileNotFoundError) as err:
        load_affective("mosi", tmp_path)
    assert (
        f"mosi_data.pkl not found, looked for {tmp_path / 'mosi_data.pkl'}; mosi_raw.pkl not "
        f"found, looked for {tmp_path / 'mosi_raw.pkl'}"
    ) in str(err.value)


def test_no_path_uses_the_environment(write_affective, monkeypatch):
    monkeypatch.delenv("ALIGNLAB_MULTIBENCH_DIR", raising=False)
    with pytest.raises(FileNotFoundError, match="no path given and \\$ALIGNLAB_MULTIBENCH_DIR"):
        load_affective("mustard")
    path = write_affective("mustard")
    monkeypatch.setenv("ALIGNLAB_MULTIBENCH_DIR", str(path.parent))
    assert len(load_affective("sarcasm").train) == SIZES["train"] - 1


def test_not_a_pickle(tmp_path):
    path = tmp_path / "mosi_data.pkl"
    path.write_bytes(b"not a pickle at all")
    with pytest.raises(ValueError, match="not a readable pickle"):
        load_affective("mosi", path)


# -- bad input: a clear ValueError before anything is trained ------------------------------------
def _broken(name, edit):
    raw = affective_dict(name)
    edit(raw)
    return raw


def _drop(d, key):
    del d[key]


BAD = {
    "missing split": (
        "mosi",
        lambda r: _drop(r, "valid"),
        r"has no split 'valid' \(found keys \['test', 'train'\]\)",
    ),
    "missing modality": (
        "mosi",
        lambda r: _drop(r["test"], "audio"),
        r"split 'test' has no key 'audio'",
    ),
    "missing labels": (
        "mustard",
        lambda r: _drop(r["train"], "labels"),
        r"split 'train' has no key 'labels'",
    ),
    "mismatched samples": (
        "mosi",
        lambda r: r["train"].update(vision=r["train"]["vision"][:-1]),
        r"split 'train' modalities disagree on samples or steps: vision \(11, 50, 20\)",
    ),
    "mismatched steps": (
        "mosi",
        lambda r: r["valid"].update(audio=r["valid"]["audio"][:, :40]),
        r"split 'valid' modalities disagree on samples or steps",
    ),
    "labels count": (
        "mosi",
        lambda r: r["test"].update(labels=r["test"]["labels"][:-1]),
        r"split 'test' labels have shape \(4, 1, 1\); expected one label per sample: \(5,\)",
    ),
    "wrong rank": (
        "mosei",
        lambda r: r["train"].update(text=r["train"]["text"].reshape(12, -1)),
        r"split 'train' text has rank 2 \(shape \(12, 15000\)\); expected \(samples, steps, f",
    ),
    "feature sizes differ between splits": (
        "mosi",
        lambda r: r["valid"].update(vision=np.ones((5, 50, 35), np.float32)),
        r"vision has different feature sizes across splits: \[20, 35\]",
    ),
    "feature sizes of no released file": (
        "mosi",
        lambda r: [p.update(audio=p["audio"][:, :, :4]) for p in r.values()],
        r"audio has 4 features, expected 5 for mosi_data.pkl; the released files hold vision / "
        r"audio / text mosi_data.pkl \(20 / 5 / 300, the paper's file\) or mosi_raw.pkl \(35 / "
        r"74 / 300, FACET 4.2 and COVAREP\); is this the right file\?",
    ),
    "labels with two values per sample": (
        "mosei",
        lambda r: r["train"].update(labels=np.zeros((12, 2), np.float32)),
        r"labels have shape \(12, 2\); expected one label per sample: \(12,\), \(12, 1\), "
        r"\(12, 1, 1\) or \(12, 1, k\)",
    ),
    "boolean sentiment": (
        "mosi",
        lambda r: r["test"].update(labels=np.ones((5, 1, 1), bool)),
        r"split 'test' labels are booleans, but this dataset's labels are sentiment scores",
    ),
    "non-integer class labels": (
        "mustard",
        lambda r: r["train"].update(labels=r["train"]["labels"] + 0.5),
        r"split 'train' labels are not 2-class: this is a classification dataset",
    ),
    "three classes": (
        "urfunny",
        lambda r: r["valid"].update(labels=np.arange(5.0).reshape(5, 1) % 3),
        r"booleans or integers in \{0, 1\} or \{-1, 1\}, got values \[0.0, 1.0, 2.0\]",
    ),
    "text labels": (
        "mosi",
        lambda r: r["test"].update(labels=np.array(["good"] * 5)),
        r"split 'test' labels has dtype <U4; expected a numeric array",
    ),
    "nan vision": (
        "mosi",
        lambda r: r["train"]["vision"].__setitem__((2, -1, 0), np.nan),
        r"split 'train' vision holds 1 NaN or infinite values",
    ),
    "not a dict": ("mosi", None, r"is a list, not a dict of splits"),
    "text everywhere missing": (
        "mosi",
        lambda r: r["test"]["text"].__setitem__(slice(None), 0.0),
        r"every sample of split 'test' has no text",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_refused_with_a_clear_error(case, write_affective):
    name, edit, message = BAD[case]
    raw = [1, 2] if edit is None else _broken(name, edit)
    with pytest.raises(ValueError, match=message):
        load_affective(name, write_affective(name, raw))


def test_check_features_false_accepts_other_feature_sets():
    raw = affective_dict("mosi")
    for part in raw.values():
        part["vision"] = np.concatenate([part["vision"]] * 2, axis=2)  # 40 features
    data = prepare_affective("mosi", raw, check_features=False)
    assert data.splits["train"]["vision"].shape[2] == 40 and data.layout == ""
    with pytest.raises(ValueError, match="vision has 40 features, expected 20 for mosi_data"):
        prepare_affective("mosi", raw)


def test_pickle_round_trip_of_the_fixture_schema(write_affective):
    """The fixture writes what MultiBench's files hold: a dict of dicts of arrays."""
    with open(write_affective("mosi"), "rb") as f:
        raw = pickle.load(f)
    assert set(raw) == {"train", "valid", "test"}
    assert {"vision", "audio", "text", "labels"} <= set(raw["train"])
