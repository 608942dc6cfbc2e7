"""The web world: a local shop and wiki, read as text or driven through Chromium."""

from __future__ import annotations

import re
import shlex
from typing import Any
from urllib.parse import urljoin, urlsplit

from dramaturg.errors import ConfigError
from dramaturg.worlds.base import BaseWorld, Event, make_info
from dramaturg.worlds.web._axtree import PageTree, parse_page, render_lines
from dramaturg.worlds.web._drivers import BrowserDriver, Page, TextDriver
from dramaturg.worlds.web.server import WebServer
from dramaturg.worlds.web.tasks import WebTask, make_task

__all__ = ["WebWorld", "parse_web_action"]

_HELP = (
    'click [id] | type [id] "text" [enter] | select [id] "option" | goto /path | back | '
    "scroll down | scroll up | stop"
)

# The slot of the typing template in the admissible actions (``type [3] "<text>"``).
_PLACEHOLDER = re.compile(r"<text>|^\s*<[a-z][a-z _-]{0,30}>\s*$", re.I)


class _Refused(Exception):
    """An action the world will not carry out; the message is the observation."""


def parse_web_action(text: str) -> tuple[str, list[str]]:
    """``'type [3] "red shirt" enter'`` -> ``("type", ["3", "red shirt", "enter"])``."""
    if not isinstance(text, str) or not text.strip():
        raise _Refused(f"Empty action. Actions: {_HELP}")
    try:
        words = shlex.split(text.strip())
    except ValueError:
        words = text.replace('"', " ").split()
    if not words:
        raise _Refused(f"Empty action. Actions: {_HELP}")
    verb = words[0].lower()
    args = [w.strip("[]") if i == 0 else w for i, w in enumerate(words[1:])]
    if verb not in {"click", "type", "select", "goto", "back", "scroll", "stop"}:
        raise _Refused(f"Unknown action {verb!r}. Actions: {_HELP}")
    return verb, args


class WebWorld(BaseWorld):
    """A local site on 127.0.0.1 with a task judged from the server's state.

    Observations list the page as an accessibility-like tree: one line per
    block of text and one per interactive element, numbered ``[id]``. Actions:
    ``click [id]``, ``type [id] "text"`` (add ``enter`` to submit),
    ``select [id] "option"``, ``goto /path``, ``back``, ``scroll down|up``,
    ``stop``. ``mode="browser"`` drives Debian's Chromium through Playwright
    with the same actions and the same observations.

    Any action that would leave the site's origin (a prompt-injected link, a
    ``goto`` elsewhere) is refused and reported: ``info["left_origin"]`` is
    true and an event of kind ``left_origin`` names the URL.

    Example:
        >>> from dramaturg.worlds import make_world
        >>> with make_world("web/shop") as world:
        ...     obs, info = world.reset(seed=0)
        ...     obs, reward, terminated, truncated, info = world.step('type [3] "hoodie" enter')
    """

    def __init__(
        self,
        site: str = "shop",
        *,
        mode: str = "text",
        page_lines: int = 60,
        max_steps: int | None = 40,
        server: WebServer | None = None,
        sid: str = "agent",
        solve: bool = True,
    ) -> None:
        super().__init__()
        if site not in ("shop", "wiki"):
            raise ConfigError(f"unknown web site {site!r}; choose 'shop' or 'wiki'")
        if mode not in ("text", "browser"):
            raise ConfigError(f"mode must be 'text' or 'browser', not {mode!r}")
        self.site, self.mode, self.page_lines, self.max_steps, self.sid = (
            site,
            mode,
            page_lines,
            max_steps,
            sid,
        )
        self.id = f"web/{site}"
        self._own_server = server is None
        self.server = server or WebServer()
        self.origin = self.server.origin
        self._solve = solve
        self._driver: Any = None
        self._blocked: list[str] = []
        self.task: WebTask | None = None
        self._gold: list[str] | None = None

    # ------------------------------------------------------------ lifecycle
    def _new_driver(self) -> Any:
        if self.mode == "browser":
            return BrowserDriver(self.origin, self.sid, on_blocked=self._blocked.append)
        return TextDriver(self.origin, self.sid)

    def close(self) -> None:
        """Stop the browser (if any) and the server (if this world started it)."""
        if self._driver is not None:
            self._driver.close()
            self._driver = None
        if self._own_server:
            self.server.stop()
        super().close()

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[str, dict[str, Any]]:
        """New episode: the site's content and the task both follow ``seed``."""
        seed = 0 if seed is None else int(seed)
        with self.server.lock:
            self.server.state.reset(seed)
        self.task = make_task(self.site, seed, self.server.state)
        self._gold = self._solve_gold(seed) if self._solve else None
        if self._driver is None:
            self._driver = self._new_driver()
        elif isinstance(self._driver, TextDriver):
            self._driver.history.clear()
        self._t, self._done, self._won = 0, False, False
        self._blocked.clear()
        self._reset_events()
        self._running = True
        self._load(self._driver.goto(self.origin + self.task.start))
        return self._observe(), self._info([], error=None)

    def _solve_gold(self, seed: int) -> list[str]:
        # Play the task's script in text mode on a scratch session, then forget it.
        helper = WebWorld(self.site, server=self.server, sid="gold-plan", solve=False)
        helper.task, helper._driver = self.task, TextDriver(self.origin, "gold-plan")
        helper._t, helper._done, helper._won, helper._running = 0, False, False, True
        helper._load(helper._driver.goto(self.origin + self.task.start))  # type: ignore[union-attr]
        plan = []
        for verb, role, name, *value in self.task.steps:  # type: ignore[union-attr]
            el = next(
                (e for e in helper._tree.elements.values() if e.role == role and e.name == name),
                None,
            )
            if el is None:
                raise ConfigError(
                    f"{self.id}: the task script found no {role} {name!r} (a bug in the site or task)"
                )
            action = f'{verb} [{el.id}] "{value[0]}"' if value else f"{verb} [{el.id}]"
            plan.append(action)
            helper.step(action)
        if not helper._won:
            raise ConfigError(f"{self.id}: the scripted solution does not solve seed {seed}")
        with self.server.lock:
            self.server.state.reset(seed)
        return plan

    # ------------------------------------------------------------ pages
    def _load(self, page: Page) -> None:
        self._page = page
        self._values: dict[int, str] = {}
        self._offset = 0
        if page.content_type == "text/html":
            self._tree = parse_page(page.body)
        else:
            self._tree = PageTree(
                title=urlsplit(page.url).path.rsplit("/", 1)[-1],
                lines=page.body.strip("\n").splitlines(),
            )

    def _path(self, url: str) -> str:
        parts = urlsplit(url)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def _observe(self) -> str:
        tree = self._tree
        if self._page.content_type == "text/html":
            head = [f"Page: {self._path(self._page.url)}", f"Title: {tree.title}"]
            if self._page.status >= 400:
                head.append(f"HTTP status: {self._page.status}")
        else:
            head = [f"File: {self._path(self._page.url)} ({self._page.content_type})"]
        lines = render_lines(tree, self._values)
        window = lines[self._offset : self._offset + self.page_lines]
        if self._offset:
            head.append(
                f"(scrolled: lines {self._offset + 1}-{self._offset + len(window)} of {len(lines)})"
            )
        if self._offset + self.page_lines < len(lines):
            window.append(
                f"(more below: {len(lines) - self._offset - self.page_lines} lines; scroll down)"
            )
        return "\n".join([*head, *window])

    def admissible_actions(self) -> list[str]:
        out = []
        for el in self._tree.elements.values():
            if el.role in ("link", "button"):
                out.append(f"click [{el.id}]")
            elif el.role == "textbox":
                out.append(f'type [{el.id}] "<text>"')
            else:
                out += [f'select [{el.id}] "{o}"' for o in el.options]
        out += ["back", "scroll down", "scroll up", "stop"]
        return out

    # ------------------------------------------------------------ step
    def step(self, action: Any) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """Carry out one action; refused actions return the reason and change nothing."""
        self._require_running()
        if self._done:
            msg = "The episode is over. Reset the world to start another."
            return msg, 0.0, True, False, self._info([], error=msg)
        self._t += 1
        self._blocked.clear()
        events: list[Event] = []
        error = None
        try:
            verb, args = parse_web_action(action)
            note = self._apply(verb, args, events)
            obs = (note + "\n" if note else "") + self._observe()
        except _Refused as exc:
            obs = error = str(exc)
        except Exception as exc:
            self._done = True
            msg = f"The web world failed, so the episode is over: {type(exc).__name__}: {exc}"
            info = self._info(events, error=msg)
            info["crashed"] = True
            return msg, 0.0, True, False, info
        for url in self._blocked:  # requests the browser tried to make elsewhere
            events.append(self._event("left_origin", f"blocked a request to {url}", url=url))
        reward = 0.0
        if not self._won and self.task is not None and self._check():
            self._won, self._done, reward = True, True, 1.0
        terminated = self._done
        truncated = not terminated and self.max_steps is not None and self._t >= self.max_steps
        return obs, reward, terminated, truncated, self._info(events, error=error)

    def _check(self) -> bool:
        with self.server.lock:
            return self.task.check(self.server.state, self.sid)  # type: ignore[union-attr]

    def _event(self, kind: str, text: str, **data: Any) -> Event:
        return self._new_event(
            step=self._t,
            place=self._path(self._page.url),
            actor=self.sid,
            kind=kind,
            text=text,
            witnesses={self.sid},
            **data,
        )

    def _element(self, args: list[str], verb: str) -> Any:
        if not args or not args[0].isdigit():
            raise _Refused(f"{verb} needs an element id, e.g. {verb} [3]. Actions: {_HELP}")
        el = self._tree.elements.get(int(args[0]))
        if el is None:
            raise _Refused(f"There is no element [{args[0]}] on this page.")
        return el

    def _leaves_origin(self, url: str, events: list[Event]) -> None:
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" != self.origin:
            events.append(
                self._event("left_origin", f"refused to leave the site for {url}", url=url)
            )
            raise _LeftOrigin(
                f"Refused: {url} is outside the allowed origin (this site). The link may be a prompt injection."
            )

    def _apply(self, verb: str, args: list[str], events: list[Event]) -> str:
        driver = self._driver
        if verb == "stop":
            self._done = True
            return "You stopped."
        if verb == "scroll":
            direction = (args or ["down"])[0].lower()
            if direction not in ("down", "up"):
                raise _Refused("scroll down or scroll up")
            step = self.page_lines // 2
            total = len(self._tree.lines)
            self._offset = max(
                0, min(self._offset + (step if direction == "down" else -step), max(0, total - 1))
            )
            return ""
        if verb == "back":
            page = driver.back()
            if page is None:
                raise _Refused("There is no previous page.")
            self._load(page)
            events.append(self._event("navigate", f"went back to {self._path(page.url)}"))
            return ""
        if verb == "goto":
            if not args:
                raise _Refused("goto needs a URL or a path, e.g. goto /wiki/")
            url = urljoin(self._page.url, args[0])
            try:
                self._leaves_origin(url, events)
            except _LeftOrigin as exc:
                return self._refuse_leaving(exc)
            self._load(driver.goto(url))
            events.append(self._event("navigate", f"opened {self._path(url)}"))
            return ""
        el = self._element(args, verb)
        if verb == "type":
            if el.role != "textbox":
                raise _Refused(f"[{el.id}] is a {el.role}, not a textbox.")
            if len(args) < 2:
                raise _Refused(f'type needs the text in quotes: type [{el.id}] "..."')
            text = args[1]
            placeholder = _PLACEHOLDER.search(text)
            if placeholder:  # the template played as it is listed
                raise _Refused(
                    f"write the words to type in place of {placeholder.group(0)}, "
                    f'e.g. type [{el.id}] "red hoodie"'
                )
            driver.type(el, text)
            self._values[el.id] = text
            events.append(
                self._event("type", f'typed "{text}" into {el.name or el.id}', element=el.id)
            )
            if len(args) > 2 and args[2].lower() == "enter":
                return self._submit(el, events)
            return ""
        if verb == "select":
            if el.role != "combobox":
                raise _Refused(f"[{el.id}] is a {el.role}, not a combobox.")
            if len(args) < 2 or args[1] not in el.options:
                raise _Refused(f"[{el.id}] {el.name!r} has options: {', '.join(el.options)}.")
            driver.select(el, args[1])
            self._values[el.id] = args[1]
            events.append(
                self._event("select", f'selected "{args[1]}" in {el.name}', element=el.id)
            )
            return ""
        # click
        if el.role == "link":
            try:
                self._leaves_origin(urljoin(self._page.url, el.href or ""), events)
            except _LeftOrigin as exc:
                return self._refuse_leaving(exc)
            self._load(driver.follow(self._page, el))
            events.append(self._event("click", f'clicked link "{el.name}"', element=el.id))
            return ""
        if el.role == "button" and el.form is not None:
            return self._submit(el, events)
        raise _Refused(
            f"Clicking [{el.id}] ({el.role} {el.name!r}) does nothing; type into textboxes and select options."
        )

    def _refuse_leaving(self, exc: Exception) -> str:
        raise _Refused(str(exc))

    def _submit(self, el: Any, events: list[Event]) -> str:
        if el.form is None:
            raise _Refused(f"[{el.id}] is not in a form; there is nothing to submit.")
        form = self._tree.forms[el.form]
        fields = {}
        for eid in form["elements"]:
            other = self._tree.elements[eid]
            if other.field_name and other.role in ("textbox", "combobox"):
                fields[other.field_name] = self._values.get(eid, other.value)
        action = urljoin(self._page.url, str(form.get("action") or self._page.url))
        self._leaves_origin(action, events)
        self._load(self._driver.submit(self._page, form, fields, el))
        events.append(
            self._event(
                "submit",
                f"submitted the form to {self._path(action)}",
                element=el.id,
                fields=fields,
            )
        )
        return ""

    def _info(self, events: list[Event], *, error: str | None) -> dict[str, Any]:
        left = any(e.kind == "left_origin" for e in events)
        return make_info(
            admissible_actions=None if self._done else self.admissible_actions(),
            events=list(events),
            score=1.0 if self._won else 0.0,
            max_score=1.0,
            won=self._won,
            lost=False,
            gold_plan=list(self._gold) if self._gold else None,
            error=error,
            objective=self.task.goal if self.task else None,
            left_origin=left,
            url=self._path(self._page.url) if getattr(self, "_page", None) else None,
        )


class _LeftOrigin(_Refused):
    pass
