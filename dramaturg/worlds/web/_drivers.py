"""How the web world fetches pages: plain HTTP (text mode) or a real Chromium (browser mode).

Both drivers return :class:`Page` records that the world reads through the
same parser, so the two modes observe the same thing.
"""

from __future__ import annotations

import os
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

from dramaturg.errors import MissingExtraError
from dramaturg.worlds.base import WorldError

__all__ = ["CHROMIUM_ARGS", "BrowserDriver", "Page", "TextDriver", "find_chromium"]

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-proxy-server",
    "--disable-dev-shm-usage",
]


@dataclass(kw_only=True)
class Page:
    url: str
    status: int
    content_type: str
    body: str  # HTML, or the text of a file


def find_chromium() -> str:
    """Debian's Chromium (or ``$DRAMATURG_CHROMIUM``); Playwright's own download is never used."""
    for candidate in (
        os.environ.get("DRAMATURG_CHROMIUM"),
        "/usr/bin/chromium",
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
    ):
        if candidate and os.path.isfile(candidate):
            return candidate
    raise WorldError(
        "browser mode needs Chromium: apt-get install -y chromium (or set DRAMATURG_CHROMIUM)"
    )


class TextDriver:
    """urllib against the local server; forms are submitted as a browser would."""

    def __init__(self, origin: str, sid: str) -> None:
        self.origin = origin
        self.sid = sid
        # No proxies: the site is on loopback and must never go through one.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        self.history: list[str] = []

    def _fetch(self, url: str, data: bytes | None = None) -> Page:
        req = urllib.request.Request(url, data=data, headers={"Cookie": f"sid={self.sid}"})
        try:
            with self._opener.open(req, timeout=30) as resp:
                page = Page(
                    url=resp.geturl(),
                    status=resp.status,
                    content_type=resp.headers.get_content_type(),
                    body=resp.read().decode("utf-8", "replace"),
                )
        except urllib.error.HTTPError as err:
            page = Page(
                url=url,
                status=err.code,
                content_type=err.headers.get_content_type(),
                body=err.read().decode("utf-8", "replace"),
            )
        self.history.append(page.url)
        return page

    def goto(self, url: str) -> Page:
        return self._fetch(url)

    def follow(self, page: Page, el: Any) -> Page:
        return self._fetch(urljoin(page.url, el.href))

    def submit(
        self, page: Page, form: dict[str, Any], fields: dict[str, str], clicked: Any
    ) -> Page:
        action = urljoin(page.url, str(form.get("action") or page.url))
        data = {**form["hidden"], **fields}
        if form.get("method") == "post":
            return self._fetch(action, urlencode(data).encode())
        return self._fetch(action.split("?", 1)[0] + "?" + urlencode(data))

    def type(self, el: Any, text: str) -> None:
        pass  # text mode keeps typed values in the world until a form is submitted

    def select(self, el: Any, value: str) -> None:
        pass

    def back(self) -> Page | None:
        if len(self.history) < 2:
            return None
        self.history.pop()
        url = self.history.pop()
        return self._fetch(url)

    def close(self) -> None:
        pass


class BrowserDriver:
    """Debian's Chromium through Playwright (never ``playwright install``)."""

    def __init__(
        self,
        origin: str,
        sid: str,
        *,
        on_blocked: Any,
        timeout_ms: int = 15000,
        executable: str | None = None,
    ) -> None:
        try:
            from playwright.sync_api import sync_playwright
        except ImportError as exc:
            raise MissingExtraError(
                "playwright", "browser", "the web world's browser mode"
            ) from exc
        self.origin = origin
        self._pw: Any = sync_playwright().start()
        try:
            self._browser = self._pw.chromium.launch(
                executable_path=executable or find_chromium(), args=CHROMIUM_ARGS, headless=True
            )
            self._ctx = self._browser.new_context(java_script_enabled=True, accept_downloads=False)
            self._ctx.set_default_timeout(timeout_ms)
            self._ctx.add_cookies([{"name": "sid", "value": sid, "url": origin}])
            self._ctx.route("**/*", self._guard)
            self.page = self._ctx.new_page()
        except Exception:
            self.close()
            raise
        self._on_blocked = on_blocked

    def _guard(self, route: Any) -> None:
        url = route.request.url
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" == self.origin or parts.scheme in ("data", "about"):
            route.continue_()
        else:
            self._on_blocked(url)
            route.abort("blockedbyclient")

    def _read(self, status: int = 200) -> Page:
        page = self.page
        page.wait_for_load_state("load")
        ctype = page.evaluate("document.contentType")
        if ctype == "text/html":
            body = page.content()
        else:
            body = page.evaluate("document.body ? document.body.innerText : ''")
        return Page(url=page.url, status=status, content_type=ctype, body=body)

    def goto(self, url: str) -> Page:
        resp = self.page.goto(url)
        return self._read(resp.status if resp else 200)

    def follow(self, page: Page, el: Any) -> Page:
        with self.page.expect_navigation() as nav:
            self.page.click(el.css)
        resp = nav.value
        return self._read(resp.status if resp else 200)

    def submit(
        self, page: Page, form: dict[str, Any], fields: dict[str, str], clicked: Any
    ) -> Page:
        with self.page.expect_navigation() as nav:
            if clicked.role == "button":
                self.page.click(clicked.css)
            else:
                self.page.press(clicked.css, "Enter")
        resp = nav.value
        return self._read(resp.status if resp else 200)

    def type(self, el: Any, text: str) -> None:
        self.page.fill(el.css, text)

    def select(self, el: Any, value: str) -> None:
        self.page.select_option(el.css, value)

    def back(self) -> Page | None:
        resp = self.page.go_back()
        if resp is None:
            return None
        page = self._read(resp.status)
        # Chromium restores typed values on history navigation; text mode shows a fresh page.
        self.page.evaluate("document.querySelectorAll('form').forEach(f => f.reset())")
        return page

    def close(self) -> None:
        for closer in (getattr(self, "_ctx", None), getattr(self, "_browser", None)):
            if closer is not None:
                try:
                    closer.close()
                except Exception:
                    pass
        if getattr(self, "_pw", None) is not None:
            try:
                self._pw.stop()
            except Exception:
                pass
            self._pw = None
