"""Registries of implementations by connection kind, whose modules (and so whose drivers) load on first use."""

import importlib
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Kind → ``"module:Class"`` (imported when that kind is first opened) or the class itself (registered by code)."""

    def __init__(self, entries: dict[str, str]):
        self._entries: dict[str, str | type[T]] = dict(entries)

    def __getitem__(self, kind: str) -> type[T]:
        entry = self._entries[kind]
        if isinstance(entry, str):
            module, name = entry.split(":")
            entry = self._entries[kind] = getattr(importlib.import_module(module), name)
        return entry

    def __setitem__(self, kind: str, implementation: type[T]) -> None:
        self._entries[kind] = implementation

    def __delitem__(self, kind: str) -> None:
        del self._entries[kind]

    def __contains__(self, kind: object) -> bool:
        return kind in self._entries

    def get(self, kind: str, default: type[T] | None = None) -> type[T] | None:
        return self[kind] if kind in self._entries else default

    def kinds(self) -> list[str]:
        return list(self._entries)
