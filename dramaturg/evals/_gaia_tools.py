"""The local web site as a tool for GAIA-style questions (``read_page``).

Questions about "the local wiki" or "the local shop" are answered from the
site the web world serves with seed 0. The server starts on first use, on
127.0.0.1, and stops when the tool's ``site.close()`` is called.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

__all__ = ["LocalSite", "local_web_tool"]


class LocalSite:
    """The local web site, started lazily; pages come back as text (links, tables, forms)."""

    def __init__(self, *, seed: int = 0) -> None:
        self.seed = seed
        self._server: Any = None
        self._driver: Any = None

    def read(self, path: str) -> str:
        from dramaturg.worlds.web._axtree import parse_page, render_lines
        from dramaturg.worlds.web._drivers import TextDriver
        from dramaturg.worlds.web.server import WebServer

        parts = urlsplit(path.strip())
        if parts.scheme or parts.netloc:
            if parts.hostname not in ("127.0.0.1", "localhost"):
                raise ValueError(
                    "only the local site can be read: give a path such as /wiki/ or /shop/"
                )
        local = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        if not local.startswith("/"):
            local = "/" + local
        if self._server is None:
            self._server = WebServer(seed=self.seed)
            self._driver = TextDriver(self._server.origin, "reader")
        page = self._driver.goto(self._server.origin + local)
        if page.status >= 400:
            raise ValueError(f"HTTP {page.status} for {local}; start from /wiki/ or /shop/")
        if page.content_type != "text/html":
            return page.body
        tree = parse_page(page.body)
        lines = render_lines(tree)
        # A reader follows links by path, so each link line carries its target.
        for i, line in enumerate(tree.lines):
            if line.startswith("\x00"):
                el = tree.elements[int(line[1:])]
                if el.role == "link" and getattr(el, "href", None):
                    lines[i] = f'link "{el.name}" -> {el.href}'
        return "\n".join([f"Page: {local}", f"Title: {tree.title}", *lines])

    def close(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


def local_web_tool(*, seed: int = 0) -> Any:
    """A ``read_page(path)`` tool over the local wiki (``/wiki/``) and shop (``/shop/``)."""
    from dramaturg.tools import Tool

    site = LocalSite(seed=seed)

    def read_page(path: str) -> str:
        """Read a page of the local web site as text: headings, tables, links (with their targets).

        Args:
            path: the page's path, e.g. /wiki/ (the wiki's index), /wiki/search?q=river,
                /shop/ or /shop/search?q=hoodie; follow a link by reading its path.
        """
        return site.read(path)

    tool = Tool.from_function(read_page, timeout_s=30.0, max_output_chars=12_000)
    tool.site = site  # type: ignore[attr-defined]
    return tool
