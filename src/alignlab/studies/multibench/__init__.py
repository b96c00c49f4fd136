"""The MultiBench study (the paper's Table 1) on MultiBench, AVMNIST or the offline avdigits."""

from alignlab.studies.multibench.spec import MultiBenchStudySpec, paper_value
from alignlab.studies.multibench.study import STUDY, table1

__all__ = ["STUDY", "MultiBenchStudySpec", "paper_value", "table1"]
