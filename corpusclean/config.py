"""Configuration: ``configs/default.toml`` overlaid by a user TOML file, validated at load.

``default.toml`` is the one place where every key and its default live. The schema below (one pydantic
model per section) is the one place where each key's type and allowed range live: a user file may set
only keys that exist, with a value of the right type inside its range, and ``rules.disabled`` may name
only rule ids that exist, so a typo or a value the pipeline cannot use fails at start, before any work,
with a one-line :class:`~corpusclean.errors.UsageError` that names the key, the value and what is
allowed, instead of being silently ignored or failing later with a traceback.

Example:
    >>> cfg = load_config()                      # bundled defaults
    >>> cfg.section("extract")["include_comments"]
    False
    >>> load_config(overrides={"dedup": {"near_threshold": 7}})
    Traceback (most recent call last):
    ...
    corpusclean.errors.UsageError: overrides: dedup.near_threshold = 7 is out of range: must be > 0 and <= 1
"""

from __future__ import annotations

import difflib
import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import xxhash
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, model_validator
from pydantic_core import PydanticCustomError

from .errors import UsageError

_PACKAGE_DIR = Path(__file__).resolve().parent


def configs_dir() -> Path:
    """The bundled ``configs/`` folder: inside the wheel, or beside the package in a checkout."""
    for candidate in (_PACKAGE_DIR / "_configs", _PACKAGE_DIR.parent / "configs"):
        if (candidate / "default.toml").is_file():
            return candidate
    raise UsageError("corpusclean's bundled configs/ folder is missing; reinstall the package")


def _sites_dir(configured: str) -> Path:
    return Path(configured) if configured else configs_dir() / "sites"


def rule_ids(sites_dir: str | Path | None = None) -> frozenset[str]:
    """The ids of every chrome rule phase A loads (``configs/generic_rules.toml`` and the site packs of
    ``sites_dir``, default the bundled ``configs/sites``): the ids ``rules.disabled`` may name."""
    from .filters.rules import load_packs  # here: the rules pull in polars and regex, config needs neither

    packs, _ = load_packs(configs_dir() / "generic_rules.toml", _sites_dir(str(sites_dir or "")))
    return frozenset(rule.id for pack in packs for rule in pack.rules)


# ---- the schema: types and ranges of every key of default.toml (defaults stay in default.toml) ----

_STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
Count = Annotated[int, Field(ge=1)]
Share = Annotated[float, Field(gt=0, le=1)]
FieldName = Annotated[str, Field(min_length=1)]


def _problem(message: str) -> PydanticCustomError:
    return PydanticCustomError("config_problem", "{message}", {"message": message})


class InputSection(BaseModel):
    model_config = _STRICT
    outlet_from_folder: bool
    jsonl_text_field: FieldName
    jsonl_html_field: FieldName
    jsonl_url_field: FieldName
    jsonl_title_field: FieldName
    jsonl_date_field: FieldName
    jsonl_outlet_field: FieldName
    max_file_bytes: Count
    max_decompressed_bytes: Count
    skip_hidden: bool

    @model_validator(mode="after")
    def _text_and_html_differ(self) -> "InputSection":
        if self.jsonl_text_field == self.jsonl_html_field:
            raise _problem(f"input.jsonl_text_field and input.jsonl_html_field are both "
                           f"{json.dumps(self.jsonl_text_field)}: they must name different JSONL fields")
        return self


class ExtractSection(BaseModel):
    model_config = _STRICT
    include_comments: bool
    include_tables: bool
    favor_precision: bool
    favor_recall: bool
    fast: bool
    fallback_share: Annotated[float, Field(ge=0, le=1)]  # 0: no fallback to the full pass

    @model_validator(mode="after")
    def _one_focus(self) -> "ExtractSection":
        if self.favor_precision and self.favor_recall:
            raise _problem("extract.favor_precision and extract.favor_recall are both true: they exclude "
                           "each other (trafilatura would ignore favor_precision); set at most one")
        return self


class TextSection(BaseModel):
    model_config = _STRICT
    folded: bool  # store the match key (NFKC, ASCII quotes and dashes) instead of the author's text


class SegmentSection(BaseModel):
    model_config = _STRICT
    rejoin_broken: bool
    min_article_words: Annotated[int, Field(ge=0)]  # 0: never refuse a page as having no article


class RulesSection(BaseModel):
    model_config = _STRICT
    disabled: list[Annotated[str, Field(min_length=1)]]
    sites_dir: str

    @model_validator(mode="after")
    def _known_rule_ids(self, info: ValidationInfo) -> "RulesSection":
        if not self.disabled or not (info.context or {}).get("check_rule_ids", True):
            return self
        folder = _sites_dir(self.sites_dir)
        if not folder.is_dir():
            raise _problem(f"rules.sites_dir = {json.dumps(self.sites_dir)} is not a folder "
                           "(it holds the site rule packs whose ids rules.disabled may name)")
        known = rule_ids(folder)
        problems = []
        for rule_id in dict.fromkeys(self.disabled):
            if rule_id not in known:
                close = difflib.get_close_matches(rule_id, sorted(known), n=3)
                problems.append(json.dumps(rule_id) + (f" (did you mean {', '.join(close)}?)" if close else ""))
        if problems:
            raise _problem(f"rules.disabled names unknown rule id{'s' if len(problems) > 1 else ''} "
                           f"{'; '.join(problems)}; rule ids are those "
                           f"of configs/generic_rules.toml and of the site packs in {folder}")
        return self


class DedupSection(BaseModel):
    model_config = _STRICT
    hash_seed: Annotated[int, Field(ge=0, le=2**64 - 1)]  # xxh64 seed
    min_words: Count
    shingle_size: Count
    # datasketch's band search needs num_perm >= 2 and always returns b * r <= num_perm; past 1024 the
    # search takes seconds and signatures grow while verification (exact Jaccard) gains nothing
    num_perm: Annotated[int, Field(ge=2, le=1024)]
    minhash_seed: Annotated[int, Field(ge=0, le=2**32 - 1)]  # numpy RandomState seed
    near_threshold: Share
    min_containment: Share
    min_shared_shingles: Count
    max_posting: Annotated[int, Field(ge=2)]  # a shingle held by one paragraph pairs nothing
    partition_shingles: Count
    task_pool_paragraphs: Count
    max_bucket_size: Annotated[int, Field(ge=2)]  # lsh.candidate_pairs refuses less
    containment_sample_mod: Count
    template_min_docs: Annotated[int, Field(ge=2)]  # 1 would make every paragraph a template
    template_min_context_share: Share
    template_min_docs_per_outlet: Annotated[float, Field(ge=1)]  # each counted outlet has a page

    @model_validator(mode="after")
    def _sample_keeps_shared(self) -> "DedupSection":
        # a pair sharing min_shared_shingles shingles keeps about min_shared / mod of them in the sample
        if self.containment_sample_mod > self.min_shared_shingles:
            raise _problem(f"dedup.containment_sample_mod = {self.containment_sample_mod} is out of range: "
                           f"must be <= dedup.min_shared_shingles ({self.min_shared_shingles}), or the "
                           "sample keeps less than one shingle of a pair at the threshold")
        return self


class RunSection(BaseModel):
    model_config = _STRICT
    shard_files: Count
    shard_mb: Annotated[float, Field(ge=0.000001)]  # int(shard_mb * 1e6) bytes: at least 1 byte (0 would mean no limit)


class ConfigSchema(BaseModel):
    """The whole config: one model per ``[section]`` of ``default.toml``."""

    model_config = ConfigDict(extra="forbid")
    input: InputSection
    extract: ExtractSection
    text: TextSection
    segment: SegmentSection
    rules: RulesSection
    dedup: DedupSection
    run: RunSection


#: The model of each section, by section name.
SECTIONS: dict[str, type[BaseModel]] = {name: info.annotation for name, info in ConfigSchema.model_fields.items()}

_TYPE_NAMES = {"bool_type": "bool", "int_type": "int", "float_type": "float", "string_type": "str",
               "list_type": "list"}
_RANGE_ERRORS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal", "finite_number",
                 "string_too_short"}
_OPERATORS = (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<="))  # annotated_types' Gt, Ge, Lt, Le


def _allowed(section: str, key: str) -> str:
    """The range of ``section.key`` as declared in its model, e.g. ``> 0 and <= 1``."""
    info = SECTIONS[section].model_fields[key]
    if getattr(info.annotation, "__origin__", None) is list:
        return "a list of non-empty strings"
    if info.annotation is str:
        return "a non-empty string"
    parts = [f"{sign} {getattr(item, attr)}" for item in info.metadata
             for attr, sign in _OPERATORS if getattr(item, attr, None) is not None]
    return " and ".join(parts) if parts else "a finite number"


def _toml(value: Any) -> str:
    """``value`` as TOML writes it (``inf``, ``nan``, ``true``, ``"text"``), for messages."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return json.dumps(value, ensure_ascii=False, default=str)


def _message(error: dict[str, Any], where: str, values: dict[str, Any]) -> str:
    """One line for the first pydantic error of a config."""
    loc, kind, value = error["loc"], error["type"], error["input"]
    if kind == "config_problem":
        return f"{where}: {error['msg']}"
    section = loc[0]
    if len(loc) == 1:
        if kind == "extra_forbidden":
            known = ", ".join(SECTIONS)
            if not isinstance(value, dict):
                return f"{where}: {section} = {_toml(value)} is outside any [section] (sections: {known})"
            return f"{where}: unknown config section [{section}] (known: {known})"
        if kind == "missing":
            return f"{where}: config section [{section}] is missing"
        return f"{where}: [{section}] must be a table of keys"
    key = loc[1]
    name = f"{section}.{key}"
    if kind == "extra_forbidden":
        fields = sorted(SECTIONS[section].model_fields)
        close = difflib.get_close_matches(str(key), fields, n=1)
        hint = f" (did you mean {section}.{close[0]}?)" if close else ""
        return f"{where}: unknown config key {name}{hint} (known: {', '.join(fields)})"
    if kind == "missing":
        return f"{where}: config key {name} is missing"
    if kind in _TYPE_NAMES:
        expected = _TYPE_NAMES[kind]
        if len(loc) > 2:  # an item of a list
            return (f"{where}: config key {name} must be list of {expected}, got {type(value).__name__} "
                    f"{value!r} at index {loc[2]}")
        return f"{where}: config key {name} must be {expected}, got {type(value).__name__} {value!r}"
    shown = _toml(values[section][key])
    if kind in _RANGE_ERRORS:
        return f"{where}: {name} = {shown} is out of range: must be {_allowed(section, key)}"
    return f"{where}: {name} = {shown} is refused: {error['msg']}"


def validate(values: dict[str, Any], where: str, check_rule_ids: bool = True) -> None:
    """Check ``values`` (all sections) against the schema; raise a one-line :class:`UsageError`."""
    try:
        ConfigSchema.model_validate(values, context={"check_rule_ids": check_rule_ids})
    except ValidationError as exc:
        errors = exc.errors()
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        raise UsageError(_message(errors[0], where, values) + more) from None


@dataclass(frozen=True)
class Config:
    """The resolved configuration: plain nested dicts plus where they came from."""

    values: dict[str, dict[str, Any]]
    source: str = "default"
    extra_hash_material: tuple[str, ...] = field(default=())

    def section(self, name: str) -> dict[str, Any]:
        return self.values[name]

    def sites_dir(self) -> Path:
        return _sites_dir(self.values["rules"]["sites_dir"])

    def to_json(self) -> str:
        return json.dumps(self.values, sort_keys=True, ensure_ascii=False)

    def config_hash(self) -> str:
        """xxh64 of the resolved config and of every rule file it loads: equal hash, equal output."""
        digest = xxhash.xxh64(self.to_json().encode())
        for material in self.extra_hash_material:
            digest.update(material.encode())
        return digest.hexdigest()


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise UsageError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"config file {path} is not valid TOML: {exc}") from None


def _overlay(defaults: dict[str, Any], user: dict[str, Any], where: str) -> dict[str, Any]:
    """``user`` over ``defaults`` (both whole configs of plain dicts), validated; ``where`` names ``user``."""
    merged = {section: dict(values) for section, values in defaults.items()}
    for section, values in user.items():
        if isinstance(values, dict) and isinstance(merged.get(section), dict):
            merged[section].update(values)
        else:
            merged[section] = values  # not a table, or no such section: the schema names the problem
    validate(merged, where, check_rule_ids="rules" in user)
    return merged


def load_config(path: str | Path | None = None, overrides: dict[str, dict[str, Any]] | None = None) -> Config:
    """Load the defaults, overlay ``path`` (a TOML file) and then ``overrides``; validate both.

    Raises:
        UsageError: the file is missing or malformed, names a key or rule id that does not exist, or
            gives a key a value of the wrong type or out of its range.
    """
    default_path = configs_dir() / "default.toml"
    values = _read_toml(default_path)
    validate(values, str(default_path))
    source = "default"
    if path is not None:
        values = _overlay(values, _read_toml(Path(path)), str(path))
        source = str(path)
    if overrides:
        values = _overlay(values, overrides, "overrides")
    return Config(values=values, source=source)
