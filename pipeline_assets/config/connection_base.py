"""What the kinds of connection share: a ``kind``, one-line errors for settings that do not fit it, and the login
that server kinds have in common (host, port, user, password, database, connect timeout)."""

from abc import abstractmethod
from typing import Any, ClassVar

from pydantic import Field, field_validator, model_validator

from pipeline_assets.config.base import _Model, _secret_ref

# Settings that database kinds take, named when a connection of a kind without them is given one.
DATABASE_SETTINGS = ("host", "port", "user", "password", "database", "connect_timeout", "path")


class Connection(_Model):
    """A database used as a source, a warehouse, or both; each ``kind`` is a subclass with only its own settings."""

    kind: str
    # Required settings whose absence is better explained than by their name alone.
    needs: ClassVar[dict[str, str]] = {}

    @model_validator(mode="before")
    @classmethod
    def _fits_kind(cls, data: Any) -> Any:
        """One line for what does not fit this kind: another kind's block or settings, or what is missing."""
        if not isinstance(data, dict):
            return data
        problem = _misplaced(data) or _strays(cls, data) or _missing(cls, data)
        if problem:
            raise ValueError(problem)
        return data

    @abstractmethod
    def describe(self) -> str:
        """Where the connection points, for messages (never a secret)."""


def _misplaced(data: dict) -> str | None:
    kind = data.get("kind")
    if kind != "files" and (data.get("url") or data.get("s3")):
        return f"url and s3 are for files connections, not {kind}"
    for block in ("snowflake", "redshift"):
        if kind != block and data.get(block) is not None:
            return f"{block}: options are for {block} connections, not {kind}"
    return None


def _strays(cls: type[Connection], data: dict) -> str | None:
    strays = [key for key in data if key in DATABASE_SETTINGS and key not in cls.model_fields]
    if not strays:
        return None
    own = [name for name in cls.model_fields if name != "kind"]
    takes = own[0] if len(own) == 1 else f"{', '.join(own[:-1])} and {own[-1]}"
    return f"a {data['kind']} connection takes {takes}, not {', '.join(strays)}"


def _missing(cls: type[Connection], data: dict) -> str | None:
    missing = [
        cls.needs.get(name, name)
        for name, field in cls.model_fields.items()
        if field.is_required() and data.get(name) in (None, "")
    ]
    return f"a {data['kind']} connection needs {', '.join(missing)}" if missing else None


class NetworkConnection(Connection):
    """A database reached over the network with a user and a password read from the environment."""

    host: str | None = None
    port: int | None = Field(default=None, gt=0, lt=65536)
    user: str
    password: str | None = Field(default=None, description="${ENV_VAR} holding the password")
    database: str
    connect_timeout: int = Field(default=10, gt=0)

    _check_password = field_validator("password")(_secret_ref)


class ServerConnection(NetworkConnection):
    """A database server at ``host``, on its kind's default port unless ``port`` says otherwise."""

    host: str
    default_port: ClassVar[int]

    @property
    def resolved_port(self) -> int:
        return self.port or self.default_port

    def describe(self) -> str:
        """Where the connection points, for messages (never the password)."""
        return f"{self.kind} {self.host}:{self.resolved_port}/{self.database}"


class FileDatabase(Connection):
    """A database in a local file (sqlite, duckdb)."""

    path: str = Field(description="the database file")

    def describe(self) -> str:
        """Where the connection points, for messages."""
        return f"{self.kind} {self.path}"
