"""The shipped studies, each a subpackage plugged into the study contract of
:mod:`alignlab.experiments` (spec, jobs, tables), registered here and nowhere else.

=============  ==========================================================================
study          what it runs
=============  ==========================================================================
synthetic      the controlled study: redundancy, uniqueness, heterogeneity (Section 4)
multibench     Table 1 on MultiBench, AVMNIST or the offline avdigits set (Section 5)
vl             pretrained vision and language models on perturbed image-caption pairs
=============  ==========================================================================

The practitioner's diagnostic (:mod:`alignlab.studies.diagnostic`) uses the same selection,
seeds and packing on the user's own arrays, and returns its answer rather than a run directory.
"""

from alignlab.experiments.registry import register_study
from alignlab.studies.multibench.study import STUDY as MULTIBENCH
from alignlab.studies.synthetic.study import STUDY as SYNTHETIC
from alignlab.studies.vl.study import STUDY as VL

for _study in (SYNTHETIC, MULTIBENCH, VL):
    register_study(_study)

__all__ = ["MULTIBENCH", "SYNTHETIC", "VL"]
