"""Vision-language alignment of pretrained models under controlled perturbation."""

from alignlab.studies.vl.spec import VLStudySpec, parse_levels
from alignlab.studies.vl.study import STUDY

__all__ = ["STUDY", "VLStudySpec", "parse_levels"]
