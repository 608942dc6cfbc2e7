"""Interactive drama sessions: on disk (:mod:`.sessions`) and on the web (``dramaturg serve``)."""

from dramaturg.server._guard import ServerPolicy
from dramaturg.server.sessions import DramaSession, SessionMeta, sessions_dir

__all__ = ["DramaSession", "ServerPolicy", "SessionMeta", "sessions_dir"]
