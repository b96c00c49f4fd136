"""alignlab.train: training populations of models at once."""

from alignlab.train._fused import training_step
from alignlab.train.adamw import PopulationAdamW, clip_grad_norm_per_member_
from alignlab.train.population import (
    PAPER_LRS,
    PAPER_WDS,
    TrainConfig,
    hyperparameter_grid,
    train_population,
)
from alignlab.train.result import MemberResult, PopulationResult, score_groups, score_population
from alignlab.train.sequence import SequencePopulationResult, train_sequence_population
from alignlab.train.states import concat_states, take_state

__all__ = [
    "PAPER_LRS",
    "PAPER_WDS",
    "MemberResult",
    "PopulationAdamW",
    "PopulationResult",
    "SequencePopulationResult",
    "TrainConfig",
    "clip_grad_norm_per_member_",
    "concat_states",
    "hyperparameter_grid",
    "score_groups",
    "score_population",
    "take_state",
    "train_population",
    "train_sequence_population",
    "training_step",
]
