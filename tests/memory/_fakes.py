"""Stand-ins the memory tests share."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WorldEvent:
    """The shape of the worlds subsystem's event records, without importing the worlds."""

    id: str
    step: int
    place: str
    actor: str
    kind: str
    text: str
    witnesses: frozenset[str]

    def to_dict(self) -> dict:
        return {**self.__dict__, "witnesses": sorted(self.witnesses)}
