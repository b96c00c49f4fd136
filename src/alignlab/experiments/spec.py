"""The spec contract shared by every study: typed, validated, hashed, saved with the results.

A spec is plain typed data (pydantic, unknown keys refused) with a default and a reason for each
field. Every study's spec subclasses :class:`StudySpec`; it loads from a shipped preset
(``presets/<study>_<name>.yaml``) or a YAML/TOML file, takes ``field=value`` overrides from the
command line, and is saved, resolved, beside every result.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

STORE_FORMAT = 3  # bump when the meaning of stored rows changes: older run directories are refused


class SpecLoader(yaml.SafeLoader):
    """PyYAML's safe loader, reading ``1e-3`` as a number as YAML 1.2 does (YAML 1.1, which
    PyYAML follows, needs a dot: ``1.0e-3``; without one ``lrs: [1e-3]`` would be a string)."""


SpecLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def load_yaml(text: str) -> Any:
    """``text`` parsed as YAML by :class:`SpecLoader` (safe; ``1e-3`` is a float).

    >>> load_yaml("{lrs: [1e-3, 5e-4], epochs: 5}")
    {'lrs': [0.001, 0.0005], 'epochs': 5}
    """
    return yaml.load(text, Loader=SpecLoader)  # noqa: S506 - SpecLoader is a SafeLoader


class StudySpec(BaseModel):
    """Base of every study's spec: frozen, unknown keys refused, hashed into a fingerprint.

    Subclasses declare ``study: Literal["name"]`` and their fields. ``not_hashed`` names fields
    that do not change results (a data path whose content is hashed instead, a device);
    ``hashed_when_set`` names fields added after runs were stored, hashed only when not None, so
    that a spec leaving them unset keeps its earlier fingerprint and its run directory resumes.

    Values are strict: an int field refuses ``true``, ``1.5`` and ``"3"`` (pydantic's lax mode
    would read ``true`` as 1 epoch); a float field takes an int; a list field takes a list or a
    tuple.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    not_hashed: ClassVar[frozenset[str]] = frozenset()
    hashed_when_set: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _tuples_as_lists(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}
        return data

    def fingerprint(self, data_key: str | None = None) -> str:
        """Hash of everything that determines the results (16 hex characters): the store format,
        the spec (less ``not_hashed``) and, where given, the fingerprint of the data's content."""
        unset = {name for name in self.hashed_when_set if getattr(self, name) is None}
        fields = self.model_dump(mode="json", exclude=set(self.not_hashed) | unset)
        return stable_hash({"format": STORE_FORMAT, "spec": fields, "data": data_key})

    def known_totals(self) -> dict[str, int]:
        """Jobs per phase that the spec alone tells, for ``alignlab status`` where the study's
        ``totals`` cannot (a subclass overrides it; the base knows none)."""
        return {}

    def to_yaml(self) -> str:
        """The resolved spec as YAML, every field written out."""
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


class MetricSpec(BaseModel):
    """One alignment metric and its parameters."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    name: Literal["unbiased_cka", "cka", "rbf_cka", "mutual_knn", "cknna", "svcca"] = Field(
        description="Metric name, as in alignlab.metrics."
    )
    k: int | None = Field(None, ge=1, description="Neighbours for mutual_knn and cknna.")

    @model_validator(mode="after")
    def _k_where_needed(self) -> MetricSpec:
        if self.name in ("mutual_knn", "cknna") and self.k is None:
            raise ValueError(f"metric {self.name} needs k (for example k: 100)")
        if self.name not in ("mutual_knn", "cknna") and self.k is not None:
            raise ValueError(f"metric {self.name} takes no k; remove it")
        return self

    @property
    def params(self) -> dict[str, int]:
        """Keyword arguments of the metric, for example ``{"k": 100}``."""
        return {} if self.k is None else {"k": self.k}


def sorted_unique(values: list[int], name: str) -> list[int]:
    """``values`` sorted without repeats; a ValueError naming ``name`` when empty."""
    if not values:
        raise ValueError(f"{name} must not be empty")
    return sorted(set(values))


def stable_hash(obj: Any, length: int = 16) -> str:
    """SHA-256 of the canonical JSON of ``obj``, as ``length`` hex characters.

    >>> stable_hash({"b": 1, "a": [1, 2]}) == stable_hash({"a": [1, 2], "b": 1})
    True
    """
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def preset_names(study: str) -> list[str]:
    """The presets shipped for ``study`` (``presets/<study>_<name>.yaml``), sorted."""
    folder = resources.files("alignlab.presets")
    prefix = f"{study}_"
    return sorted(
        p.name[len(prefix) : -len(".yaml")]
        for p in folder.iterdir()
        if p.name.startswith(prefix) and p.name.endswith(".yaml")
    )


def load_preset(study: str, name: str) -> dict[str, Any]:
    """The raw mapping of a shipped preset of ``study``."""
    names = preset_names(study)
    if name not in names:
        choices = ", ".join(names) or "none"
        raise ValueError(f"unknown preset {name!r} for the {study} study; choose one of {choices}")
    text = resources.files("alignlab.presets").joinpath(f"{study}_{name}.yaml").read_text()
    data = load_yaml(text) or {}
    return {k: v for k, v in data.items() if k != "expected_minutes"}


def preset_expected_minutes(study: str, name: str) -> float | None:
    """The preset's expected wall time on 2 cores (its ``expected_minutes`` entry; None where
    it depends on the models or was not measured)."""
    if name not in preset_names(study):
        return None
    text = resources.files("alignlab.presets").joinpath(f"{study}_{name}.yaml").read_text()
    value = (load_yaml(text) or {}).get("expected_minutes")
    return None if value is None else float(value)


def load_spec_file(path: str | Path) -> dict[str, Any]:
    """The raw mapping in a YAML (``.yaml``/``.yml``) or TOML (``.toml``) spec file.

    Raises FileNotFoundError or ValueError with one line naming the file and its problem:
    missing, a folder, another suffix, not UTF-8, empty, invalid YAML/TOML, or not a mapping.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"spec file {path} does not exist")
    if not path.is_file():
        raise ValueError(f"spec file {path} is not a file (a folder?); give a .yaml or .toml file")
    if path.suffix not in (".yaml", ".yml", ".toml"):
        raise ValueError(f"spec file {path} must end in .yaml, .yml or .toml")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"spec file {path} is not UTF-8 text (byte {exc.start}); save it as UTF-8"
        ) from None
    except OSError as exc:
        raise ValueError(f"spec file {path} cannot be read: {exc.strerror or exc}") from None
    kind = path.suffix[1:].upper().replace("YML", "YAML")
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else load_yaml(text)
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"spec file {path} is not valid {kind}: {_parse_problem(exc)}") from None
    if data is None or data == {}:
        raise ValueError(f"spec file {path} is empty; write the spec's fields as field: value")
    if not isinstance(data, dict):
        raise ValueError(
            f"spec file {path} must hold a mapping of field: value, not a {type(data).__name__}"
        )
    return data


def _parse_problem(exc: Exception) -> str:
    """A YAML or TOML error as one line: what is wrong and where (1-based line and column)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None)
    if mark is not None and problem:
        return f"{problem} at line {mark.line + 1}, column {mark.column + 1}"
    return " ".join(str(exc).split())


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``field=value`` overrides; values are parsed as YAML (``seeds=[0,1]``, ``epochs2=5``,
    ``lr=1e-3`` a number).

    >>> apply_overrides({"epochs2": 300}, ["epochs2=5", "seeds=[0, 1]", "grad_clip=1e-3"])
    {'epochs2': 5, 'seeds': [0, 1], 'grad_clip': 0.001}
    """
    out = dict(data)
    for item in overrides:
        field, sep, value = item.partition("=")
        if not sep or not field.strip():
            raise ValueError(
                f"--set {item!r} must look like field=value, for example --set epochs2=5"
            )
        try:
            out[field.strip()] = load_yaml(value)
        except yaml.YAMLError as exc:
            raise ValueError(
                f"--set {item!r}: {value!r} is not a valid value ({_parse_problem(exc)}); write "
                "numbers as 5 or 1e-3, lists as [0, 1], mappings as {name: mutual_knn, k: 10}"
            ) from None
    return out


def check_fields(spec_type: type[StudySpec], data: dict[str, Any]) -> None:
    """A ValueError naming every key of ``data`` that is no field of ``spec_type``, with the
    closest field names."""
    known = list(spec_type.model_fields)
    unknown = [k for k in data if k not in spec_type.model_fields]
    if not unknown:
        return
    parts = []
    for key in unknown:
        close = difflib.get_close_matches(str(key), known, n=2, cutoff=0.6)
        parts.append(f"{key!r}" + (f" (did you mean {' or '.join(close)}?)" if close else ""))
    study = _study_name(spec_type)
    raise ValueError(
        f"unknown spec field(s) of the {study} study: {', '.join(parts)}; its fields are "
        f"{', '.join(known)}"
    )


def resolve_spec(
    spec_type: type[StudySpec],
    preset: str | None = None,
    config: str | Path | None = None,
    overrides: list[str] = (),
    fields: dict[str, Any] | None = None,
) -> StudySpec:
    """A study's spec: a shipped preset (default ``quick``) or a spec file (not both), then
    ``fields`` (values as given, e.g. from command-line options), then ``field=value``
    overrides (values parsed as YAML).

    >>> from alignlab.studies.synthetic.spec import SyntheticStudySpec
    >>> resolve_spec(SyntheticStudySpec, "quick", overrides=["epochs2=3"]).epochs2
    3
    """
    if preset and config:
        raise ValueError("give either --preset or --config, not both")
    study = _study_name(spec_type)
    data = load_spec_file(config) if config else load_preset(study, preset or "quick")
    found = data.get("study", study)
    if found != study:
        where = f"spec file {Path(config).expanduser()}" if config else f"preset {preset}"
        raise ValueError(
            f"{where} is a spec of the {found!r} study, but this command runs {study!r}; run it "
            f"with `alignlab run {found}`"
        )
    data = apply_overrides({**data, **(fields or {})}, list(overrides))
    check_fields(spec_type, data)
    return spec_type.model_validate(data)


def _study_name(spec_type: type[StudySpec]) -> str:
    return spec_type.model_fields["study"].default


__all__ = [
    "MetricSpec",
    "STORE_FORMAT",
    "StudySpec",
    "SpecLoader",
    "apply_overrides",
    "check_fields",
    "load_preset",
    "load_spec_file",
    "load_yaml",
    "preset_expected_minutes",
    "preset_names",
    "resolve_spec",
    "sorted_unique",
    "stable_hash",
]
