"""The controlled synthetic study: redundancy, uniqueness and heterogeneity (the paper's
Section 4), trained and aligned end to end."""

from alignlab.studies.synthetic.spec import SyntheticStudySpec
from alignlab.studies.synthetic.study import STUDY
from alignlab.studies.synthetic.summary import key_table

__all__ = ["STUDY", "SyntheticStudySpec", "key_table"]
