"""A real HTTP server for the local site, on 127.0.0.1 and a free port, in a thread.

Server-side state (carts, orders, downloads) is what tasks are judged on, so
an agent cannot "win" by saying it did something.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from dramaturg.worlds.web import _pages as P
from dramaturg.worlds.web._content import Article, Catalogue, build_catalogue, build_wiki

__all__ = ["SiteState", "WebServer"]


@dataclass(kw_only=True)
class SiteState:
    """Everything the site remembers; reset per episode."""

    seed: int = 0
    catalogue: Catalogue = field(default_factory=Catalogue)
    wiki: dict[str, Article] = field(default_factory=dict)
    carts: dict[str, list[tuple[str, str, str, int]]] = field(default_factory=dict)
    orders: list[dict[str, Any]] = field(default_factory=list)
    downloads: list[dict[str, str]] = field(default_factory=list)
    requests: int = 0

    def reset(self, seed: int) -> None:
        self.seed = seed
        self.catalogue = build_catalogue(seed)
        self.wiki = build_wiki(seed)
        self.carts.clear()
        self.orders.clear()
        self.downloads.clear()
        self.requests = 0


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass

    # -- plumbing
    def _sid(self) -> str:
        for part in self.headers.get("Cookie", "").split(";"):
            k, _, v = part.strip().partition("=")
            if k == "sid" and v:
                return v
        return "anonymous"

    def _send(
        self,
        body: str | bytes,
        *,
        status: int = 200,
        ctype: str = "text/html; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _redirect(self, location: str) -> None:
        self._send("", status=HTTPStatus.SEE_OTHER, headers={"Location": location})

    def _form(self) -> dict[str, str]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        return {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}

    # -- routes
    def do_GET(self) -> None:
        st = self.server.state
        with self.server.lock:
            st.requests += 1
            url = urlsplit(self.path)
            path, query = unquote(url.path), {k: v[-1] for k, v in parse_qs(url.query).items()}
            sid = self._sid()
            site = "wiki" if path.startswith("/wiki") else "shop"
            if path in ("/", ""):
                return self._redirect("/shop/")
            if path == "/shop/":
                return self._send(P.shop_home(list(st.catalogue.products.values())))
            if path == "/shop/search":
                q = query.get("q", "")
                return self._send(P.search_results(q, st.catalogue.search(q)))
            if path.startswith("/shop/product/"):
                p = st.catalogue.products.get(path.rsplit("/", 1)[-1])
                if p:
                    return self._send(P.product(p, message=query.get("msg", "")))
            if path == "/shop/cart":
                lines = [
                    (st.catalogue.products[pid], c, s, q) for pid, c, s, q in st.carts.get(sid, [])
                ]
                return self._send(P.cart(lines, message=query.get("msg", "")))
            if path.startswith("/shop/order/"):
                num = path.rsplit("/", 1)[-1]
                for o in st.orders:
                    if str(o["number"]) == num and o["sid"] == sid:
                        return self._send(P.order(o["number"], o["total"]))
            if path == "/wiki/":
                return self._send(P.wiki_home(list(st.wiki.values())))
            if path == "/wiki/search":
                q = query.get("q", "")
                hits = [
                    a
                    for a in st.wiki.values()
                    if q and q.lower() in (a.title + " " + a.summary).lower()
                ]
                return self._send(P.wiki_home(list(st.wiki.values()), q, hits))
            if path.startswith("/wiki/article/"):
                a = st.wiki.get(path.rsplit("/", 1)[-1])
                if a:
                    return self._send(P.article(a))
            if path.startswith("/wiki/files/"):
                name = path.rsplit("/", 1)[-1]
                for a in st.wiki.values():
                    if name in a.files:
                        st.downloads.append({"sid": sid, "file": name})
                        # text/plain for every format: browsers show it inline, as text mode does.
                        return self._send(a.files[name], ctype="text/plain; charset=utf-8")
            return self._send(P.not_found(path, site=site), status=404)

    def do_POST(self) -> None:
        st = self.server.state
        with self.server.lock:
            st.requests += 1
            path = urlsplit(self.path).path
            form = self._form()
            sid = self._sid()
            if path == "/shop/cart/add":
                p = st.catalogue.products.get(form.get("product", ""))
                if p is None:
                    return self._send(P.not_found(path, site="shop"), status=404)
                colour, size = form.get("colour", ""), form.get("size", "")
                try:
                    qty = int(form.get("qty", "1"))
                except ValueError:
                    qty = 0
                if colour not in p.colours or size not in p.sizes or not 1 <= qty <= 10:
                    return self._redirect(
                        f"/shop/product/{p.id}?msg=Choose+a+colour,+a+size+and+a+quantity+from+1+to+10."
                    )
                st.carts.setdefault(sid, []).append((p.id, colour, size, qty))
                return self._redirect("/shop/cart?msg=Added+to+cart.")
            if path == "/shop/cart/clear":
                st.carts.pop(sid, None)
                return self._redirect("/shop/cart")
            if path == "/shop/checkout":
                lines = st.carts.get(sid, [])
                name = form.get("name", "").strip()
                if not lines:
                    return self._redirect("/shop/cart")
                if not name:
                    return self._redirect("/shop/cart?msg=Enter+your+full+name+to+place+the+order.")
                total = round(
                    sum(st.catalogue.products[pid].price * q for pid, _, _, q in lines), 2
                )
                number = len(st.orders) + 1
                st.orders.append(
                    {
                        "sid": sid,
                        "number": number,
                        "name": name,
                        "items": list(lines),
                        "total": total,
                    }
                )
                st.carts.pop(sid, None)
                return self._redirect(f"/shop/order/{number}")
            return self._send(P.not_found(path, site="shop"), status=404)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, state: SiteState) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state
        self.lock = threading.Lock()


class WebServer:
    """The local site, served until :meth:`stop` (or the end of a ``with`` block).

    Example:
        >>> with WebServer(seed=0) as server:
        ...     server.origin.startswith("http://127.0.0.1:")
        True
    """

    def __init__(self, *, seed: int = 0) -> None:
        self.state = SiteState()
        self.state.reset(seed)
        self._server = _Server(self.state)
        self.port = self._server.server_address[1]
        self.origin = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"dramaturg-web-{self.port}", daemon=True
        )
        self._thread.start()

    @property
    def lock(self) -> threading.Lock:
        return self._server.lock

    def stop(self) -> None:
        """Stop serving and free the port. Safe to call twice."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def __enter__(self) -> WebServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
