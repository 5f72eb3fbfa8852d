"""Reading the configuration file: YAML, ${VAR} expansion, validation, one-line errors."""

import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from pipeline_assets.config.models import SECRET_FIELDS, SECRET_REF, ProjectConfig
from pipeline_assets.core.errors import ConfigError

CONFIG_ENV_VAR = "PIPELINE_ASSETS_CONFIG"
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class _Loader(yaml.SafeLoader):
    """SafeLoader that leaves dates as text, so pydantic validates them and names the field of a bad one."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_config(path: str | Path) -> ProjectConfig:
    """Read and validate the configuration file at ``path``; raise ConfigError naming the culprit."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror})") from None
    return relative_to(parse_config(text, origin=str(path)), path.resolve().parent)


def relative_to(project: ProjectConfig, folder: Path) -> ProjectConfig:
    """Resolve relative local paths (database files, a local stage) against the config file's folder."""

    def absolute(value: str) -> str:
        return str(folder / value) if not Path(value).is_absolute() else value

    connections = {
        name: conn.model_copy(update={"path": absolute(conn.path)}) if conn.path else conn
        for name, conn in project.connections.items()
    }
    connections = {
        name: conn.model_copy(update={"url": absolute(conn.url)})
        if conn.url and not conn.url.startswith("s3://")
        else conn
        for name, conn in connections.items()
    }
    stage = (
        project.stage if project.stage.is_s3 else project.stage.model_copy(update={"url": absolute(project.stage.url)})
    )
    return project.model_copy(update={"connections": connections, "stage": stage})


def parse_config(text: str, origin: str = "config") -> ProjectConfig:
    try:
        raw = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{origin}{where}: malformed YAML: {problem}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{origin}: expected a mapping with connections, stage and tables")
    expanded = _expand(raw, origin, ())
    try:
        return ProjectConfig.model_validate(expanded)
    except ValidationError as exc:
        raise ConfigError(f"{origin}: {_describe(exc, expanded)}") from None


def _expand(value: Any, origin: str, path: tuple) -> Any:
    """Replace ${VAR} with the environment's value everywhere except in secret fields."""
    if isinstance(value, dict):
        return {k: v if k in SECRET_FIELDS else _expand(v, origin, (*path, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, origin, (*path, i)) for i, v in enumerate(value)]
    if isinstance(value, str):

        def substitute(match: re.Match) -> str:
            if match.group(1) not in os.environ:
                raise ConfigError(f"{origin}: {_dotted(path)}: environment variable {match.group(1)} is not set")
            return os.environ[match.group(1)]

        return _VAR.sub(substitute, value)
    return value


def _describe(exc: ValidationError, raw: dict) -> str:
    error = exc.errors()[0]
    loc = tuple(part for part in error["loc"] if not (isinstance(part, str) and "[" in part))
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown option"
    elif error["type"] == "literal_error":
        message = f"got {error['input']!r}; {message.lower()}"
    elif loc and loc[-1] in SECRET_FIELDS:
        pass  # never echo what was written in a secret field
    elif "input" in error and error["type"] != "missing" and not isinstance(error["input"], dict | list):
        message = f"{message} (got {error['input']!r})"
    return f"{_dotted(loc)}: {message}" if loc else message


def _dotted(loc: tuple) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def secret(reference: str | None) -> str | None:
    """The value of a ``${VAR}`` secret reference, read now (outside Dagster, which resolves EnvVars itself)."""
    if not reference:
        return None
    name = SECRET_REF.match(reference).group(1)
    if name not in os.environ:
        raise ConfigError(f"environment variable {name} is not set")
    return os.environ[name]
