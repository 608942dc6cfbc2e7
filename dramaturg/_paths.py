"""Where dramaturg keeps things on disk.

* home (``$DRAMATURG_HOME``, default ``~/.dramaturg``): sessions, memories,
  traces: things a user owns.
* cache (``$DRAMATURG_CACHE``, default ``~/.cache/dramaturg``): things that
  can be rebuilt, such as the assembled model weights and generated games.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_dir", "home_dir"]


def home_dir() -> Path:
    """The dramaturg home folder (created on first use)."""
    path = Path(os.environ.get("DRAMATURG_HOME") or Path.home() / ".dramaturg").expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir(*parts: str) -> Path:
    """A folder under the dramaturg cache (created on first use)."""
    root = Path(
        os.environ.get("DRAMATURG_CACHE") or Path.home() / ".cache" / "dramaturg"
    ).expanduser()
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
