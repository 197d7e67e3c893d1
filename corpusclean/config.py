"""Configuration: ``configs/default.toml`` overlaid by a user TOML file, validated at load.

``default.toml`` is the one place where every key and its default live; a user file may set only keys
that exist there, with a value of the same type, so a typo fails at start with a message that names the
key instead of being silently ignored.

Example:
    >>> cfg = load_config()                      # bundled defaults
    >>> cfg.section("extract")["include_comments"]
    False
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import xxhash

from .errors import UsageError

_PACKAGE_DIR = Path(__file__).resolve().parent


def configs_dir() -> Path:
    """The bundled ``configs/`` folder: inside the wheel, or beside the package in a checkout."""
    for candidate in (_PACKAGE_DIR / "_configs", _PACKAGE_DIR.parent / "configs"):
        if (candidate / "default.toml").is_file():
            return candidate
    raise UsageError("corpusclean's bundled configs/ folder is missing; reinstall the package")


@dataclass(frozen=True)
class Config:
    """The resolved configuration: plain nested dicts plus where they came from."""

    values: dict[str, dict[str, Any]]
    source: str = "default"
    extra_hash_material: tuple[str, ...] = field(default=())

    def section(self, name: str) -> dict[str, Any]:
        return self.values[name]

    def sites_dir(self) -> Path:
        configured = self.values["rules"]["sites_dir"]
        return Path(configured) if configured else configs_dir() / "sites"

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
    merged = {section: dict(values) for section, values in defaults.items()}
    for section, values in user.items():
        if section not in defaults:
            known = ", ".join(sorted(defaults))
            raise UsageError(f"{where}: unknown config section [{section}] (known: {known})")
        if not isinstance(values, dict):
            raise UsageError(f"{where}: [{section}] must be a table of keys")
        for key, value in values.items():
            if key not in defaults[section]:
                known = ", ".join(sorted(defaults[section]))
                raise UsageError(f"{where}: unknown config key {section}.{key} (known: {known})")
            expected = type(defaults[section][key])
            # bool is an int subclass in Python; keep them apart so `workers = true` is refused.
            if type(value) is not expected and not (expected is float and type(value) is int):
                raise UsageError(
                    f"{where}: config key {section}.{key} must be {expected.__name__}, "
                    f"got {type(value).__name__} {value!r}"
                )
            merged[section][key] = value
    return merged


def load_config(path: str | Path | None = None, overrides: dict[str, dict[str, Any]] | None = None) -> Config:
    """Load the defaults, overlay ``path`` (a TOML file) and then ``overrides``; validate both.

    Raises:
        UsageError: the file is missing or malformed, or names a key that does not exist.
    """
    defaults = _read_toml(configs_dir() / "default.toml")
    values = defaults
    source = "default"
    if path is not None:
        values = _overlay(values, _read_toml(Path(path)), str(path))
        source = str(path)
    if overrides:
        values = _overlay(values, overrides, "overrides")
    return Config(values=values, source=source)
