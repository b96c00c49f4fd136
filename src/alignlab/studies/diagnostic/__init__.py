"""The practitioner's diagnostic: on my paired data, does alignment track performance?"""

from alignlab.studies.diagnostic.pipeline import DiagnosticSettings, diagnose

__all__ = ["DiagnosticSettings", "diagnose"]
