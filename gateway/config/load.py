"""Reading the settings: ``--config`` file, then ``HELPDESK_*`` variables, which win."""

from __future__ import annotations

import difflib
import logging
import os
import tomllib
from collections.abc import Mapping
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from gateway.config.checks import validate
from gateway.config.settings import DEFAULT_CONFIG_PATH, ENV_PREFIX, ConfigError, Settings

log = logging.getLogger("gateway.config")

# HELPDESK_* variables that are not settings: the test suite's and CI's switches.
_NOT_SETTINGS_PREFIXES = ("HELPDESK_TEST_", "HELPDESK_REQUIRE_")
_NOT_SETTINGS = frozenset({"HELPDESK_CHROMIUM"})


def _warn_unknown(env: Mapping[str, str], known: Mapping[str, Any]) -> None:
    """A HELPDESK_* variable that is no setting would be ignored in silence: say so, with the
    nearest name (a typo such as HELPDESK_LISEN is the usual cause; issue 14, item 18)."""
    names = [ENV_PREFIX + name.upper() for name in known]
    for var in sorted(env):
        if (
            not var.startswith(ENV_PREFIX)
            or var in names
            or var in _NOT_SETTINGS
            or var.startswith(_NOT_SETTINGS_PREFIXES)
        ):
            continue
        nearest = difflib.get_close_matches(var, names, n=1, cutoff=0.6)
        hint = f"; did you mean {nearest[0]}?" if nearest else "; see the README's reference"
        log.warning("warning: %s is not a setting and is ignored%s", var, hint)


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(value)


_bool.__name__ = "boolean (true or false)"

_CONVERTERS = {
    bool: _bool,
    "bool": _bool,
    Path: Path,
    int: int,
    str: str,
    float: float,
    "Path": Path,
    "int": int,
    "str": str,
    "float": float,
}


def _coerce(name: str, kind: Any, value: Any, source: str) -> Any:
    convert = _CONVERTERS.get(kind, str)
    try:
        return convert(value)
    except (TypeError, ValueError):
        raise ConfigError(
            f"{source}: {name} = {value!r} is not a valid {getattr(convert, '__name__', kind)}"
        ) from None


def load_settings(
    config_path: Path | None = None,
    environ: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Build Settings from file, then environment, then explicit overrides; validate."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    known = {f.name: f for f in fields(Settings)}
    path = config_path if config_path is not None else DEFAULT_CONFIG_PATH
    if config_path is not None and not path.exists():
        raise ConfigError(f"config file {path} does not exist; check --config")
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read {path}: {exc}") from None
        for key, value in data.items():
            if key not in known:
                raise ConfigError(f"{path}: unknown setting {key!r}; see the README's reference")
            values[key] = _coerce(key, known[key].type, value, str(path))
    _warn_unknown(env, known)
    for name, spec in known.items():
        env_name = ENV_PREFIX + name.upper()
        if env_name in env:
            values[name] = _coerce(name, spec.type, env[env_name], env_name)
    for name, value in overrides.items():
        if value is not None:
            values[name] = value
    settings = replace(Settings(), **values)
    validate(settings)
    return settings


def reference() -> list[tuple[str, str, str]]:
    """(environment variable, default, why) for every setting: the README's table."""
    return [
        (ENV_PREFIX + f.name.upper(), str(f.default), f.metadata["why"]) for f in fields(Settings)
    ]
