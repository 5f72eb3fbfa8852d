"""Reading the configuration file: YAML, ${VAR} expansion, validation, one-line errors."""

import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from pipeline_assets.config.connection_base import FileDatabase
from pipeline_assets.config.connections import ConnectionConfig, FilesConnection
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

    def local(conn: ConnectionConfig) -> ConnectionConfig:
        if isinstance(conn, FileDatabase):
            return conn.model_copy(update={"path": absolute(conn.path)})
        if isinstance(conn, FilesConnection) and not conn.is_s3:
            return conn.model_copy(update={"url": absolute(conn.url)})
        return conn

    connections = {name: local(conn) for name, conn in project.connections.items()}
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
        raise ConfigError(f"{origin}: {_describe(exc)}") from None


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


def _describe(exc: ValidationError) -> str:
    error = exc.errors()[0]
    loc = _untagged(tuple(part for part in error["loc"] if not (isinstance(part, str) and "[" in part)))
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown option"
    elif error["type"] == "literal_error":
        message = f"got {error['input']!r}; {message.lower()}"
    elif error["type"] in ("union_tag_invalid", "union_tag_not_found"):
        loc = (*loc, error["ctx"]["discriminator"].strip("'"))
        message = "Field required" if error["type"] == "union_tag_not_found" else _unknown_tag(error["ctx"])
    elif loc and loc[-1] in SECRET_FIELDS:
        pass  # never echo what was written in a secret field
    elif "input" in error and error["type"] != "missing" and not isinstance(error["input"], dict | list):
        message = f"{message} (got {error['input']!r})"
    return f"{_dotted(loc)}: {message}" if loc else message


def _untagged(loc: tuple) -> tuple:
    """``loc`` without the kind that pydantic puts after a connection's name (the model ``kind`` chose)."""
    return loc[:2] + loc[3:] if loc[:1] == ("connections",) and len(loc) > 2 else loc


def _unknown_tag(ctx: dict) -> str:
    """An unknown ``kind``, said as an unknown value of a choice is: got 'x'; input should be 'a', 'b' or 'c'."""
    *others, last = ctx["expected_tags"].split(", ")
    return f"got {ctx['tag']!r}; input should be {', '.join(others)} or {last}"


def _dotted(loc: tuple) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def secret(reference: str | None) -> str | None:
    """The value of a ``${VAR}`` secret reference, read from the environment now (when a connection is opened)."""
    match = SECRET_REF.match(reference or "")
    if not match:
        return None
    if match.group(1) not in os.environ:
        raise ConfigError(f"environment variable {match.group(1)} is not set")
    return os.environ[match.group(1)]
