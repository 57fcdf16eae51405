"""Reading and writing configurations: YAML files, ``--set a.b=value`` overrides, the resolved
``config.yaml`` saved into every output folder, and stable hashes of sections."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from ..errors import ConfigError
from ..files import write_text
from .migrate import migrate_tree, new_key, new_value
from .schema import Config

log = logging.getLogger(__name__)


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    node = tree
    for key in keys[:-1]:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise ConfigError(f"--set {dotted}: '{key}' is a value, not a section")
        node = child
    node[keys[-1]] = value


def parse_override(text: str) -> tuple[str, Any]:
    """Split ``a.b=value`` and parse the value as YAML (so numbers, lists and null work)."""
    if "=" not in text:
        raise ConfigError(f"--set expects KEY=VALUE (e.g. features.n_mels=64), got '{text}'")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"--set '{text}' has an empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {key}: cannot parse value '{raw}': {exc}") from exc
    return key, value


def schema_field(key: str) -> FieldInfo:
    """The schema's field for a dotted key (``data.layout``): its type, default and description, for the
    command-line flags that mirror config keys."""
    model: type[BaseModel] = Config
    parts = key.split(".")
    for index, part in enumerate(parts):
        field = model.model_fields.get(part)
        if field is None:
            raise ConfigError(f"unknown config key {key!r}")
        if index == len(parts) - 1:
            return field
        model = field.annotation  # a section
    raise ConfigError(f"unknown config key {key!r}")


def load_config(
    path: str | Path | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    *,
    values: Mapping[str, tuple[str, Any]] | None = None,
) -> Config:
    """Load a YAML file (or the defaults), apply ``--set`` overrides, then ``values`` (dotted key ->
    (the option that gave it, value): the command-line flags that mirror config keys), validate."""
    tree: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path} (see configs/ for examples)")
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{path}: the top level must be a mapping of sections")
        tree, notes = migrate_tree(loaded or {}, str(path))
        for note in notes:
            log.warning("%s", note)
    keys: dict[tuple[str, ...], str] = {}
    for text in overrides:
        old, value = parse_override(text)
        key, value = new_key(old), new_value(old, value)
        if key != old:
            log.warning("--set %s: %s is now %s", text, old, key)
        _set_dotted(tree, key, value)
        keys[tuple(key.split("."))] = f"--set {text}"
    for key, (option, value) in (values or {}).items():
        _set_dotted(tree, key, str(value) if isinstance(value, Path) else value)
        keys[tuple(key.split("."))] = f"{option} {value}"
    try:
        return Config.model_validate(tree)
    except ValidationError as exc:
        raise ConfigError(f"invalid configuration{_blame(exc, keys, path)}:\n{_describe(exc)}") from exc


def _describe(exc: ValidationError) -> str:
    """One line per problem: the dotted key, what is wrong, and the value given."""
    lines = []
    for error in exc.errors():
        loc = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        given = "" if not loc or error["type"] == "missing" else f" (got {error['input']!r})"
        lines.append(f"  {loc + ': ' if loc else ''}{message}{given}")
    return "\n".join(lines)


def _blame(exc: ValidationError, overrides: dict[tuple[str, ...], str], path: Path | None) -> str:
    """Where the bad value came from: the --set overrides whose key meets an error's location (or, for a
    check across sections, is named in its message), else the file."""
    culprits = []
    for error in exc.errors():
        loc = tuple(str(part) for part in error["loc"])
        for key, text in overrides.items():
            n = min(len(key), len(loc))
            hit = key[:n] == loc[:n] if n else ".".join(key) in error["msg"]
            if hit and text not in culprits:
                culprits.append(text)
    if culprits:
        on_top = f" (applied to {path})" if path is not None else ""
        return " from " + ", ".join(culprits) + on_top
    return f" in {path}" if path is not None else ""


def config_to_dict(section: BaseModel) -> dict[str, Any]:
    """Plain JSON-able dict of a config section."""
    return section.model_dump(mode="json")


def hash_view(section: BaseModel) -> dict[str, Any]:
    """:func:`config_to_dict` without the settings a section added later while they keep the value that
    behaves as before (``ADDED_LATER``), at any depth: stores and run folders named before such a setting
    existed keep their names and stage hashes."""
    data = config_to_dict(section)
    _drop_added_defaults(section, data)
    return data


def _added_later(section: BaseModel) -> dict[str, Any]:
    """Every ADDED_LATER of the section's classes: a section made of several bases (the teacher's training and
    network fields) keeps the promises of each."""
    added: dict[str, Any] = {}
    for cls in reversed(type(section).__mro__):
        added.update(vars(cls).get("ADDED_LATER", {}))
    return added


def _drop_added_defaults(section: BaseModel, data: dict[str, Any]) -> None:
    for name, default in _added_later(section).items():
        if getattr(section, name) == default:
            data.pop(name, None)
    for name in type(section).model_fields:
        value = getattr(section, name)
        if isinstance(value, BaseModel) and isinstance(data.get(name), dict):
            _drop_added_defaults(value, data[name])


def settings_hash(*sections: BaseModel, length: int = 10) -> str:
    """Stable short hash of config sections, used to name caches and detect stale outputs."""
    payload = json.dumps([hash_view(s) for s in sections], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:length]


def save_config(config: Config, directory: str | Path) -> Path:
    """Write the resolved configuration as ``config.yaml`` into an output directory, whole or not at all (the
    other processes of a distributed run may be reading it)."""
    return write_text(Path(directory) / "config.yaml", yaml.safe_dump(config_to_dict(config), sort_keys=False))
