"""``search_seeds``: settings compared on the first seeds only, the selected one then trained on
the others, on exactly the path the protocol's full grid gives those members."""

import pytest

from alignlab.experiments import ExecutorConfig, run_study
from alignlab.experiments.selection import select_hyperparameters
from alignlab.experiments.store import RunStore, read_plan
from alignlab.studies.synthetic import STUDY, SyntheticStudySpec

SPEC = dict(
    uniqueness=[0, 8],
    dphi=[1],
    depths1=[1],
    depths2=[1, 2],
    align_depths1=[1],
    lrs=[0.001, 0.05],
    wds=[0.0, 0.1],
    epochs1=3,
    epochs2=4,
    seeds=[0, 1, 2],
    n_samples=2048,
    n_align=64,
    null_permutations=0,
    metrics=[{"name": "unbiased_cka"}],
)
MEMBER = ["u", "modality", "dphi", "depth", "seed", "lr", "wd"]
RECORD = ["val_score", "test_score", "best_epoch", "epochs_run"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("search")
    specs = {
        "full": SyntheticStudySpec(**SPEC),
        "exact": SyntheticStudySpec(**SPEC, search_seeds=1),
        "halving": SyntheticStudySpec(**SPEC, search_seeds=1, selection_rule="halving",
                                      halving_rungs=2),  # fmt: skip
    }
    config = ExecutorConfig(workers=1, quiet=True)
    return {name: run_study(spec, root / name, config) for name, spec in specs.items()}


@pytest.mark.parametrize("rule", ["exact", "halving"])
def test_the_other_seeds_train_the_selected_setting_as_the_full_grid_does(runs, rule):
    models, full = runs[rule].models, runs["full"].models
    search, rest = models[models["searched"]], models[~models["searched"]]
    assert set(search["seed"]) == {0} and set(rest["seed"]) == {1, 2}
    assert rest["selected"].all()
    assert rest.groupby("modality")["epochs"].unique().map(list).to_dict() == {"x1": [3], "x2": [4]}
    final = search[search["epochs"] == search.groupby("modality")["epochs"].transform("max")]
    assert select_hyperparameters(final, ["u", "modality"]).tolist() == final["selected"].tolist()
    for _, group in models[models["selected"]].groupby(["u", "modality"]):
        assert len(group[["lr", "wd"]].drop_duplicates()) == 1  # one setting, every seed
        assert sorted(group["seed"].unique()) == [0, 1, 2]
    same = rest.merge(full, on=MEMBER, suffixes=("", "_full"))
    assert len(same) == len(rest)
    for column in RECORD:
        assert (same[column] == same[f"{column}_full"]).all(), column


def test_alignments_cover_every_seed_and_the_plan_counts_the_extra_jobs(runs):
    alignments = runs["exact"].alignments
    assert sorted(alignments["seed_b"].unique()) == [0, 1, 2]
    assert len(alignments) == len(runs["full"].alignments)
    cells = 2 * 1 + 2 * 1 * 2  # x1: U x depth; x2: U x D_phi x depth
    for rule, per_cell in (("exact", 2), ("halving", 3)):  # search (rungs), then the other seeds
        root = runs[rule].run_dir
        stored = len(RunStore(root).done_keys("train"))
        assert read_plan(root)["train"] == cells * per_cell == stored


def test_more_search_seeds_than_seeds_is_refused():
    with pytest.raises(ValueError, match="search_seeds = 4 is more than the 3 seeds"):
        SyntheticStudySpec(**SPEC, search_seeds=4)
    totals = STUDY.totals(SyntheticStudySpec(**SPEC, search_seeds=3), None)
    assert totals["train"] == 6  # as many seeds as there are: the protocol, nothing to complete
