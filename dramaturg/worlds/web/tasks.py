"""Web tasks: a goal in words, a server-side success check, and a scripted solver."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dramaturg.worlds.web.server import SiteState

__all__ = ["WebTask", "make_task"]

BUYER = "Alex Doe"


@dataclass(kw_only=True, frozen=True)
class WebTask:
    """What the agent is asked to do on the site, and how the server judges it."""

    site: str
    goal: str
    start: str
    check: Callable[[SiteState, str], bool]
    steps: tuple[tuple[str, ...], ...]  # the solver's script: (verb, role, name[, value])
    data: dict[str, Any]


def make_task(site: str, seed: int, state: SiteState) -> WebTask:
    """The task of episode ``seed`` on ``site`` (``shop`` or ``wiki``)."""
    rng = random.Random(f"task/{site}/{seed}")
    if site == "shop":
        products = sorted(state.catalogue.products.values(), key=lambda p: p.id)
        p = rng.choice(products)
        colour, size = rng.choice(p.colours), rng.choice(p.sizes)
        budget = round(p.price + rng.choice((0.5, 2, 5)), 2)

        def check(st: SiteState, sid: str) -> bool:
            return any(
                o["sid"] == sid
                and o["total"] <= budget
                and any(i[0] == p.id and i[1] == colour and i[2] == size for i in o["items"])
                for o in st.orders
            )

        goal = f'Buy the {p.name} in colour {colour}, size {size}, spending at most ${budget:.2f}. Check out under the name "{BUYER}".'
        steps: tuple[tuple[str, ...], ...] = (
            ("type", "textbox", "Search products", p.name),
            ("click", "button", "Search"),
            ("click", "link", p.name),
            ("select", "combobox", "Colour", colour),
            ("select", "combobox", "Size", size),
            ("click", "button", "Add to cart"),
            ("type", "textbox", "Full name", BUYER),
            ("click", "button", "Place order"),
        )
        return WebTask(
            site=site,
            goal=goal,
            start="/shop/",
            check=check,
            steps=steps,
            data={"product": p.id, "colour": colour, "size": size, "budget": budget},
        )
    if site == "wiki":
        articles = sorted(state.wiki.values(), key=lambda a: a.slug)
        a = rng.choice(articles)
        name = rng.choice(sorted(a.files))

        def check(st: SiteState, sid: str) -> bool:
            return any(d["sid"] == sid and d["file"] == name for d in st.downloads)

        kind = {"csv": "CSV", "json": "JSON", "txt": "text"}[name.rsplit(".", 1)[-1]]
        goal = f'Download the {kind} file "{name}" from the wiki article "{a.title}".'
        steps = (
            ("type", "textbox", "Search the wiki", a.title.split()[0]),
            ("click", "button", "Search"),
            ("click", "link", a.title),
            ("click", "link", name),
        )
        return WebTask(
            site=site,
            goal=goal,
            start="/wiki/",
            check=check,
            steps=steps,
            data={"article": a.slug, "file": name},
        )
    from dramaturg.errors import ConfigError

    raise ConfigError(f"unknown web site {site!r}; choose 'shop' or 'wiki'")
