"""A local web (shop + reference wiki) served on 127.0.0.1, read as text or through Chromium."""

from dramaturg.worlds.web._axtree import PageTree, parse_page, render_lines
from dramaturg.worlds.web._content import build_catalogue, build_wiki
from dramaturg.worlds.web.server import SiteState, WebServer
from dramaturg.worlds.web.tasks import WebTask, make_task
from dramaturg.worlds.web.world import WebWorld, parse_web_action

__all__ = [
    "PageTree",
    "SiteState",
    "WebServer",
    "WebTask",
    "WebWorld",
    "build_catalogue",
    "build_wiki",
    "make_task",
    "parse_page",
    "parse_web_action",
    "render_lines",
]
