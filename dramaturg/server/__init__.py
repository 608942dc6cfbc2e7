"""The web app for interactive drama sessions (``dramaturg serve``).

Sessions themselves live in :mod:`dramaturg.drama.session`.
"""

from dramaturg.server._guard import ServerPolicy

__all__ = ["ServerPolicy"]
