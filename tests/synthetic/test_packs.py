"""Cells trained as one population (``studies/synthetic/packs.py``) give the tables that
training each cell alone gives, under both selection rules, with patience stopping members."""

import pandas as pd
import pytest
import torch

from alignlab.experiments import ExecutorConfig, run_study
from alignlab.studies.synthetic import SyntheticStudySpec, packs
from alignlab.studies.synthetic import study as synthetic_study
from alignlab.studies.synthetic.jobs import expand_train_jobs

SPEC = dict(
    uniqueness=[0, 8],
    dphi=[1, 5],
    depths1=[1],
    depths2=[1, 2],
    align_depths1=[1],
    lrs=[0.001, 0.05],
    wds=[0.0, 0.1],
    epochs1=4,
    epochs2=6,
    seeds=[0, 1],
    n_samples=2048,
    n_align=64,
    null_permutations=0,
    patience=1,
    metrics=[{"name": "unbiased_cka"}],
)
RULES = {"exact": {}, "halving": {"selection_rule": "halving", "halving_rungs": 3}}


@pytest.mark.parametrize("rule", list(RULES))
def test_packed_cells_give_the_tables_of_cells_trained_alone(rule, tmp_path, monkeypatch):
    spec = SyntheticStudySpec(**SPEC, **RULES[rule])
    packed = run_study(spec, tmp_path / "packed", ExecutorConfig(workers=1, quiet=True))
    # every cell its own population (run_train_job); tests/train/test_groups.py checks
    # that a population of one cell trains as train_population without groups does
    monkeypatch.setattr(synthetic_study, "pack_train_jobs", lambda jobs, done: list(jobs))
    alone = run_study(spec, tmp_path / "alone", ExecutorConfig(workers=1, quiet=True))
    assert (packed.models["epochs_run"] < packed.models["epochs"]).any()  # patience stopped some
    pd.testing.assert_frame_equal(packed.models, alone.models)
    pd.testing.assert_frame_equal(packed.alignments, alone.alignments)


def test_cells_pack_by_modality_depth_and_rung_up_to_the_member_limit(monkeypatch):
    jobs = expand_train_jobs(SyntheticStudySpec(**SPEC))  # 8 members per cell
    monkeypatch.setattr(packs, "PACK_MEMBERS", 24)
    units = packs.pack_train_jobs(jobs, done={jobs[0].key})
    assert units[0] is jobs[0]  # finished: left alone, the runner skips it
    parts = [u.parts for u in units[1:]]
    assert sorted(j.key for p in parts for j in p) == sorted(j.key for j in jobs[1:])
    for p in parts:
        assert len({(j.modality, j.depth) for j in p}) == 1 and 8 * len(p) <= 24
    # x2 depth 1: 4 cells (2 U x 2 D_phi) -> 3 + 1; x1 depth 1: 1 unfinished cell
    assert sorted(len(p) for p in parts) == [1, 1, 1, 3, 3]
    costs = [packs._cost(u) for u in units[1:]]
    assert costs == sorted(costs, reverse=True)  # the dearest start first


def test_an_unset_search_seeds_keeps_the_fingerprint_runs_were_stored_under():
    from alignlab.experiments.spec import STORE_FORMAT, stable_hash

    spec = SyntheticStudySpec(**SPEC)
    before = spec.model_dump(mode="json", exclude={"search_seeds"})  # the spec of earlier runs
    assert spec.fingerprint() == stable_hash({"format": STORE_FORMAT, "spec": before, "data": None})
    assert SyntheticStudySpec(**SPEC, search_seeds=1).fingerprint() != spec.fingerprint()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_a_pack_trains_and_scores_on_the_gpu():
    from alignlab.experiments.jobpack import JobPack

    jobs = [j for j in expand_train_jobs(SyntheticStudySpec(**SPEC)) if j.modality == 2][:2]
    rows, tensors = packs.run_train_unit(JobPack(tuple(jobs)))
    assert [len(r) for r in rows] == [8, 8] and all(0 <= r["test_score"] <= 1 for r in rows[0])
    assert tensors[0]["weights"].device.type == "cpu"
