"""The Python API refuses the same bad inputs as the command line, with the same words: strict
spec values, devices, paths inside data files, and paths that cannot be written."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from alignlab._device import check_device_name, resolve_device
from alignlab._io import atomic_write_bytes, check_writable, remove_temporary
from alignlab.data.image_text import inside, load_image_text
from alignlab.experiments import resolve_spec
from alignlab.experiments.spec import apply_overrides, load_spec_file, load_yaml
from alignlab.studies.multibench.spec import MultiBenchStudySpec
from alignlab.studies.synthetic import SyntheticStudySpec
from alignlab.studies.vl.spec import VLStudySpec

VL = {"vision": ["v"], "language": ["l"], "data": "d"}


# -- spec values ---------------------------------------------------------------------------------
def test_yaml_exponents_without_a_dot_are_numbers_in_files_and_overrides(tmp_path):
    assert load_yaml("[1e-3, -2E+2, 1.5e1, 1_000, '1e-3', 1e3x]") == [
        0.001, -200.0, 15.0, 1000, "1e-3", "1e3x"
    ]  # fmt: skip
    (tmp_path / "s.yaml").write_text("lrs: [1e-3, 5e-4]\nwds: [0, 1e-2]\n")
    assert load_spec_file(tmp_path / "s.yaml") == {"lrs": [0.001, 0.0005], "wds": [0, 0.01]}
    spec = resolve_spec(MultiBenchStudySpec, config=tmp_path / "s.yaml", overrides=["dropout=2e-1"])
    assert spec.lrs == [0.001, 0.0005] and spec.wds == [0.0, 0.01] and spec.dropout == 0.2
    assert apply_overrides({}, ["memory_gb=5e-1"]) == {"memory_gb": 0.5}


@pytest.mark.parametrize(
    ("field", "value"),
    [("epochs", True), ("batch_size", 2.0), ("batch_size", "64"), ("depths", [1, True]),
     ("n_boot", None), ("dropout", False)],  # fmt: skip
)
def test_multibench_spec_types_are_strict(field, value):
    with pytest.raises(ValidationError) as info:
        MultiBenchStudySpec(**{field: value})
    assert info.value.errors()[0]["loc"][0] == field


def test_ints_are_numbers_and_tuples_are_lists():
    spec = MultiBenchStudySpec(dropout=0, memory_gb=3, lrs=(1, 2), depths=(2, 1))
    assert spec.dropout == 0.0 and isinstance(spec.dropout, float)
    assert spec.lrs == [1.0, 2.0] and spec.depths == [1, 2]
    vl = VLStudySpec(**{**VL, "vision": ("a", "b")}, clamp_q=1)
    assert vl.clamp_q == 1.0 and vl.vision == ["a", "b"]
    # what a run directory stores is read back to the same spec (status re-reads it)
    assert MultiBenchStudySpec.model_validate(spec.model_dump(mode="json")) == spec


def test_unknown_fields_are_named_with_the_closest_ones():
    with pytest.raises(ValueError, match=r"'epoch' \(did you mean epochs\?\)"):
        resolve_spec(MultiBenchStudySpec, overrides=["epoch=3"])
    with pytest.raises(ValueError, match=r"'lr' \(did you mean lrs\?\)"):
        resolve_spec(SyntheticStudySpec, overrides=["lr=0.1"])


def test_vl_k_must_be_below_max_pairs():
    with pytest.raises(ValidationError, match="k = 10 must be smaller than max_pairs = 10"):
        VLStudySpec(**VL, max_pairs=10)
    assert VLStudySpec(**VL, max_pairs=11, k=10).max_pairs == 11


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"dataset": "avdigits", "size": "ci", "n_train": 1001}, "more than the 1000 training"),
        ({"dataset": "avdigits", "n_train": 60000}, "more than the 55000 training"),
        ({"dataset": "mosi", "modalities": ["vision", "image"]}, r"\['image'\] are not"),
        ({"dataset": "avmnist", "modalities": ["image", "text"]}, "it has image, audio"),
        ({"device": "gpu"}, "device 'gpu' is not a device name"),
    ],
)
def test_multibench_cross_field_checks(fields, message):
    with pytest.raises(ValidationError, match=message):
        MultiBenchStudySpec(**fields)


def test_multibench_sizes_within_the_dataset_pass():
    assert MultiBenchStudySpec(dataset="avdigits", size="ci", n_train=1000).n_train == 1000
    assert MultiBenchStudySpec(dataset="custom", n_train=10**6).n_train == 10**6  # unknown size


# -- devices -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["tpu", "gpu0", "cuda:x", "", "meta"])
def test_unknown_device_names_are_one_line_errors(name):
    with pytest.raises(ValueError, match="device must be cpu, cuda, cuda:N or auto") as info:
        resolve_device(name)
    assert "\n" not in str(info.value)


def test_known_device_names_pass_the_name_check_on_any_machine():
    for name in ("auto", "cpu", "cuda", "cuda:3", "mps", None):
        check_device_name(name)
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize("name", ["cuda", "cuda:0", "cuda:7"])
def test_cuda_without_a_gpu_is_refused_in_the_python_api(name):
    with pytest.raises(ValueError, match=f"device '{name}': no CUDA GPU is available"):
        resolve_device(name)
    from alignlab.metrics import align_layers

    x = torch.randn(20, 3)
    with pytest.raises(ValueError, match="no CUDA GPU"):
        align_layers([x], [x], "unbiased_cka", device=name)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_a_cuda_index_past_the_gpus_is_refused():
    count = torch.cuda.device_count()
    assert resolve_device("cuda:0").type == "cuda"
    with pytest.raises(ValueError, match=f"has {count} CUDA GPU"):
        resolve_device(f"cuda:{count}")


# -- paths inside data files ------------------------------------------------------------------
@pytest.mark.parametrize("entry", ["../x.png", "a/../../x.png", "..", "/etc/x.png", "C:/x.png"])
def test_paths_leaving_the_data_folder_are_refused(tmp_path, entry):
    with pytest.raises(ValueError, match="outside the data folder|is absolute"):
        inside(tmp_path, entry, "row 3")


def test_paths_inside_the_data_folder_are_kept(tmp_path):
    assert inside(tmp_path, "a/../b/x.png", "r") == tmp_path / "b" / "x.png"
    assert inside(tmp_path, "./x.png", "r") == tmp_path / "x.png"


def test_a_parquet_row_pointing_outside_is_refused_before_reading_it(tmp_path):
    import pandas as pd
    from PIL import Image

    Image.new("RGB", (4, 4)).save(tmp_path / "secret.png")
    data = tmp_path / "data"
    data.mkdir()
    pd.DataFrame({"image": ["../secret.png"], "text": ["a"]}).to_parquet(data / "t.parquet")
    with pytest.raises(ValueError, match=r"row 0 of .*'../secret.png' points outside"):
        load_image_text(data)
    pd.DataFrame({"image": [{"bytes": None, "path": str(tmp_path / "secret.png")}],
                  "text": ["a"]}).to_parquet(data / "t.parquet")  # fmt: skip
    with pytest.raises(ValueError, match="is absolute"):
        load_image_text(data)


# -- paths that are written ---------------------------------------------------------------------
def test_writing_over_a_folder_or_under_a_file_is_named_before_anything_is_written(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(IsADirectoryError, match=f"cannot write {tmp_path}: it is a folder"):
        atomic_write_bytes(tmp_path, b"data")
    with pytest.raises(NotADirectoryError, match=f"{tmp_path / 'f'} is a file, not a folder"):
        atomic_write_bytes(tmp_path / "f" / "g" / "out.json", b"data")
    with pytest.raises(NotADirectoryError, match="it is a file, not a folder"):
        check_writable(tmp_path / "f", "folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]


def test_an_unwritable_folder_is_named():
    with pytest.raises(PermissionError, match="/sys is not writable"):
        check_writable("/sys/alignlab/out.json")


def test_only_alignlab_temporary_files_are_removed(tmp_path):
    (tmp_path / "sub").mkdir()
    ours = [tmp_path / ".a.json.x1.tmp", tmp_path / "sub" / ".b.parquet.Zq_9.tmp"]
    theirs = [tmp_path / "notes.tmp", tmp_path / ".cache.tmp", tmp_path / "a.json"]
    for p in ours + theirs:
        p.write_text("x")
    assert sorted(remove_temporary(tmp_path)) == sorted(ours)
    assert all(p.exists() for p in theirs) and not any(p.exists() for p in ours)


# -- an existing Dask scheduler: TLS from Dask's own configuration --------------------------------
def test_dask_config_tls_settings_reach_the_scheduler_as_tls(tmp_path):
    pytest.importorskip("distributed")
    import dask

    from alignlab.experiments import _dask

    (tmp_path / "ca.pem").write_text("x")
    (tmp_path / "client.pem").write_text("x")
    settings = {
        "distributed.comm.require-encryption": True,
        "distributed.comm.tls.ca-file": str(tmp_path / "ca.pem"),
        "distributed.comm.tls.client.cert": str(tmp_path / "client.pem"),
    }
    with dask.config.set(settings):
        security = _dask.dask_config_security()
        assert security.tls_ca_file == str(tmp_path / "ca.pem") and security.require_encryption
        assert _dask.scheduler_address("sched:8786", security) == "tls://sched:8786"
        with pytest.raises(ValueError, match="requires TLS"):
            _dask.scheduler_address("tcp://sched:8786", security)
    with dask.config.set({"distributed.comm.tls.client.cert": str(tmp_path / "gone.pem")}):
        with pytest.raises(FileNotFoundError, match=r"distributed.comm.tls.client.cert names"):
            _dask.dask_config_security()
    with dask.config.set({"distributed.comm.require-encryption": False}):
        assert _dask.dask_config_security() is None  # plain tcp://, as Dask itself would


def test_dataset_files_listed_in_state_json_stay_inside_the_folder(tmp_path):
    import json

    data = tmp_path / "saved"
    data.mkdir()
    (data / "state.json").write_text(json.dumps({"_data_files": [{"filename": "../x.arrow"}]}))
    with pytest.raises(ValueError, match=r"state.json data file: path '../x.arrow' points"):
        load_image_text(data)
    (data / "state.json").unlink()
    (data / "dataset_dict.json").write_text(json.dumps({"splits": ["/etc"]}))
    with pytest.raises(ValueError, match="dataset_dict.json split: path '/etc' is absolute"):
        load_image_text(data, split="/etc")


def test_temporary_files_stay_while_a_run_holds_the_directory(tmp_path):
    import fcntl
    import os

    (tmp_path / "run.json").write_text("{}")
    tmp = tmp_path / ".plan.json.abc.tmp"
    tmp.write_text("x")
    fd = os.open(tmp_path / "run.json", os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        assert remove_temporary(tmp_path, unless_locked="run.json") == [] and tmp.exists()
    finally:
        os.close(fd)
    assert remove_temporary(tmp_path, unless_locked="run.json") == [tmp]
