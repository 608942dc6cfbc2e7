"""The plays that ship with the package (``dramaturg/drama/plays/*.yaml``)."""

from __future__ import annotations

from pathlib import Path

from dramaturg.errors import ConfigError

__all__ = ["PLAYS_DIR", "bundled_plays", "resolve_play"]

PLAYS_DIR = Path(__file__).parent / "plays"


def bundled_plays() -> list[str]:
    """The names of the bundled plays (``elsinore``, ...)."""
    return sorted(p.stem for p in PLAYS_DIR.glob("*.yaml"))


def resolve_play(name: str | Path) -> Path:
    """A blueprint file, or the name of a bundled play (``elsinore``)."""
    name = Path(name)
    if name.exists() or name.suffix:
        return name
    bundled = PLAYS_DIR / f"{name}.yaml"
    if bundled.is_file():
        return bundled
    raise ConfigError(
        f"no blueprint file {str(name)!r} and no bundled play of that name; bundled: {bundled_plays()}"
    )
