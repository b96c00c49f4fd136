"""How a population is trained: plain typed settings shared by the MLP and sequence loops."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class TrainConfig(BaseModel):
    """How a population is trained. Defaults are the protocol's synthetic-study settings.

    >>> TrainConfig(epochs=300).batch_size
    512
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    epochs: int = Field(50, ge=1, description="passes over train; paper: 50 (mod. 1), 300 (mod. 2)")
    batch_size: int = Field(512, ge=1, description="the release's batch size")
    grad_clip: float | None = Field(8.0, gt=0, description="per-member grad-norm clip; None: off")
    shared_batch_order: bool = Field(
        True, description="one batch order for all members (cheapest); False: one per member"
    )
    data_seed: int = Field(
        0, description="seeds the shared order: torch.randperm(n, generator) once per epoch"
    )
    early_stopping_patience: int | None = Field(
        None, ge=1, description="stop a member after this many epochs without a better val score"
    )
    eval_every_epoch: bool = Field(
        True, description="validate every epoch and keep the best; False: keep the last epoch"
    )
    task: Literal["classification", "regression"] = Field(
        "classification", description="cross-entropy + accuracy, or L1 + sign accuracy"
    )
    device: str | None = Field(None, description="None or 'auto': CUDA when present, else CPU")

    @model_validator(mode="after")
    def _patience_needs_evaluation(self) -> TrainConfig:
        if self.early_stopping_patience is not None and not self.eval_every_epoch:
            raise ValueError("early_stopping_patience needs eval_every_epoch=True")
        return self
