"""Prompt templates, one folder per role (``prompts/<role>/<name>.j2``).

Templates are read with ``importlib.resources`` (so they work from a wheel or
a zip) and rendered with ``StrictUndefined``: a missing variable is an error,
never an empty string. Keep the stable part of a prompt first and the
changing part last, so llama.cpp and hosted providers reuse the cached prefix.
Text from outside (a card, a web page, a tool's output) goes in fenced and
labelled as content, through the ``untrusted`` filter (see :mod:`dramaturg._untrusted`).

Example:
    >>> from dramaturg.prompts import render
    >>> render("memory", "importance.j2", agent="Hamlet", text="The ghost speaks.")[:6]  # doctest: +SKIP
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import jinja2

__all__ = ["render"]


@functools.cache
def _env() -> jinja2.Environment:
    def load(name: str) -> str | None:
        res = resources.files("dramaturg.prompts").joinpath(*name.split("/"))
        return res.read_text(encoding="utf-8") if res.is_file() else None

    from dramaturg._untrusted import injection_signs, untrusted

    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(load),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # prompts are plain text, not HTML
    )
    # Text from outside (cards, pages, tools) goes in as `{{ text | untrusted }}` inside a labelled
    # fence, and `{% if text is injected %}` adds a line saying it tries to give orders.
    env.filters["untrusted"] = untrusted
    env.tests["injected"] = lambda text: bool(injection_signs(str(text)))
    return env


@functools.lru_cache(maxsize=256)
def _template(path: str) -> jinja2.Template:
    template = _env().get_template(path)
    # A template's globals are a ChainMap over the environment's, which every render
    # walks to build its context (about 7 us of a 12 us render). Ours never change
    # after start-up, so a flat copy renders the same, twice as fast.
    template.globals = dict(template.globals)
    return template


def render(role: str, name: str, **variables: Any) -> str:
    """Render ``prompts/<role>/<name>`` with ``variables``.

    Raises:
        jinja2.TemplateNotFound: no such template.
        jinja2.UndefinedError: the template uses a variable that was not passed.
    """
    return _template(f"{role}/{name}").render(**variables)
