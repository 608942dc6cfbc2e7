"""Turn HTML into an accessibility-like text tree with numbered interactive elements.

Both modes read pages through this one parser (text mode from the HTTP body,
browser mode from Chromium's live DOM), so they show the same observation and
the same element ids. Each element also records a CSS path, which the browser
mode uses to click it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

__all__ = ["Element", "PageTree", "describe", "parse_page", "render_lines"]

_VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "track",
    "wbr",
}
_SKIP = {"script", "style", "head", "template", "noscript"}
_BLOCK = {
    "p",
    "li",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "tr",
    "div",
    "main",
    "nav",
    "ul",
    "ol",
    "table",
    "form",
    "section",
    "pre",
    "label",
}
_TEXT_INPUTS = {"text", "search", "number", "email", "password", "tel", "url", ""}


@dataclass(kw_only=True)
class Element:
    """An interactive element: a link, a button, a textbox or a combobox."""

    id: int
    role: str  # link | button | textbox | combobox
    name: str
    css: str
    href: str | None = None
    field_name: str | None = None  # the form field name
    value: str = ""
    options: list[str] = field(default_factory=list)
    form: int | None = None  # index into PageTree.forms
    input_type: str = ""


@dataclass(kw_only=True)
class PageTree:
    title: str = ""
    lines: list[str] = field(default_factory=list)
    elements: dict[int, Element] = field(default_factory=dict)
    forms: list[dict[str, Any]] = field(
        default_factory=list
    )  # action, method, hidden fields, element ids


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tree = PageTree()
        self.stack: list[tuple[str, dict[str, int]]] = [("#root", {})]
        self.path: list[str] = []
        self.skip = 0
        self.text: list[str] = []
        self.open: Element | None = None  # link/button/option/label collecting its text
        self.open_tag = ""
        self.select: Element | None = None
        self.option_value: str | None = None
        self.option_selected = False
        self.labels: dict[str, str] = {}
        self.label_for: str | None = None
        self.label_text: list[str] = []
        self.pending_label: dict[int, str] = {}  # element id -> its html id
        self.form: int | None = None
        self.in_title = False
        self.heading = ""
        self.pre = 0

    # -- helpers
    def _css(self, tag: str) -> str:
        counts = self.stack[-1][1]
        counts[tag] = counts.get(tag, 0) + 1
        return " > ".join([*self.path, f"{tag}:nth-of-type({counts[tag]})"])

    def _flush(self) -> None:
        text = " ".join(" ".join(self.text).split()).rstrip(" |")
        self.text = []
        if text:
            self.tree.lines.append(f"{self.heading}{text}" if self.heading else text)

    def _add(self, role: str, css: str, **kw: Any) -> Element:
        self._flush()
        el = Element(
            id=len(self.tree.elements) + 1, role=role, name="", css=css, form=self.form, **kw
        )
        self.tree.elements[el.id] = el
        self.tree.lines.append(f"\x00{el.id}")  # a marker, rendered by render_lines()
        if self.form is not None:
            self.tree.forms[self.form]["elements"].append(el.id)
        return el

    # -- parser callbacks
    def handle_starttag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        attrs = {k: (v or "") for k, v in attrs_list}
        css = self._css(tag)
        if tag not in _VOID:
            self.stack.append((tag, {}))
            self.path.append(css.rsplit(" > ", 1)[-1])
        if tag == "title":
            self.in_title = True
            return
        if self.skip or tag in _SKIP:
            if tag in _SKIP:
                self.skip += 1
            return
        if tag in _BLOCK or tag in ("br",):
            if self.open is None:
                self._flush()
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self.heading = f"heading {tag[1]}: "
        if tag == "pre":
            self.pre += 1
        if tag == "form":
            self.tree.forms.append(
                {
                    "action": attrs.get("action", ""),
                    "method": attrs.get("method", "get").lower(),
                    "hidden": {},
                    "elements": [],
                }
            )
            self.form = len(self.tree.forms) - 1
        elif tag == "a" and "href" in attrs:
            self._flush()
            self.open, self.open_tag = self._add("link", css, href=attrs["href"]), "a"
        elif tag == "button":
            self._flush()
            self.open, self.open_tag = (
                self._add("button", css, input_type=attrs.get("type", "submit")),
                "button",
            )
        elif tag == "input":
            kind = attrs.get("type", "text").lower()
            if kind == "hidden":
                if self.form is not None:
                    self.tree.forms[self.form]["hidden"][attrs.get("name", "")] = attrs.get(
                        "value", ""
                    )
            elif kind in ("submit", "button"):
                self._flush()
                el = self._add("button", css, input_type=kind)
                el.name = attrs.get("value", "Submit")
            elif kind in _TEXT_INPUTS:
                self._flush()
                el = self._add(
                    "textbox",
                    css,
                    field_name=attrs.get("name"),
                    value=attrs.get("value", ""),
                    input_type=kind,
                )
                el.name = attrs.get("aria-label") or attrs.get("placeholder") or ""
                if attrs.get("id"):
                    self.pending_label[el.id] = attrs["id"]
        elif tag == "textarea":
            self._flush()
            el = self._add("textbox", css, field_name=attrs.get("name"), input_type="textarea")
            if attrs.get("id"):
                self.pending_label[el.id] = attrs["id"]
            self.open, self.open_tag = el, "textarea"
        elif tag == "select":
            self._flush()
            self.select = self._add("combobox", css, field_name=attrs.get("name"))
            if attrs.get("id"):
                self.pending_label[self.select.id] = attrs["id"]
        elif tag == "option" and self.select is not None:
            self.option_value = attrs.get("value")
            self.option_selected = "selected" in attrs
            self.text = []
        elif tag == "label":
            self.label_for = attrs.get("for")
            self.label_text = []
        elif tag == "img" and attrs.get("alt"):
            self.text.append(f"[image: {attrs['alt']}]")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        # Pop to the matching open tag (tolerates a missing end tag).
        names = [t for t, _ in self.stack]
        if tag not in names[1:]:
            return
        while True:
            t, _ = self.stack.pop()
            self.path.pop()
            if t == tag:
                break
        if tag == "title":
            self.in_title = False
            return
        if tag in _SKIP:
            self.skip = max(0, self.skip - 1)
            return
        if self.skip:
            return
        if self.open is not None and tag == self.open_tag:
            text = " ".join(" ".join(self.text).split())
            self.text = []
            if self.open.role == "textbox":
                self.open.value = text
            else:
                self.open.name = text or self.open.name
            self.open = None
            return
        if tag == "option" and self.select is not None:
            label = " ".join(" ".join(self.text).split())
            self.text = []
            value = self.option_value if self.option_value is not None else label
            self.select.options.append(value)
            if self.option_selected or len(self.select.options) == 1:
                self.select.value = value
            return
        if tag == "select":
            self.select = None
            return
        if tag == "label":
            text = " ".join(" ".join(self.label_text).split())
            if self.label_for:
                self.labels[self.label_for] = text
            self.label_for = None
            self.text = []
            return
        if tag == "form":
            self._flush()
            self.form = None
        if tag == "pre":
            self.pre -= 1
        if tag in ("td", "th"):
            self.text.append("|")
            return
        if tag in _BLOCK:
            self._flush()
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self.heading = ""

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.tree.title += data.strip()
            return
        if self.skip:
            return
        if self.label_for is not None:
            self.label_text.append(data)
            return
        if self.pre and self.open is None:
            for ln in data.splitlines():
                if ln.strip():
                    self.tree.lines.append(ln.rstrip())
            return
        self.text.append(data)

    def close(self) -> None:
        super().close()
        self._flush()


def parse_page(html: str) -> PageTree:
    """Parse ``html`` into lines of text and numbered elements.

    Example:
        >>> tree = parse_page('<p>Hi <a href="/x">there</a></p>')
        >>> render_lines(tree), tree.elements[1].href
        (['Hi', '[1] link "there"'], '/x')
    """
    p = _Parser()
    p.feed(html)
    p.close()
    tree = p.tree
    for eid, html_id in p.pending_label.items():
        el = tree.elements[eid]
        el.name = p.labels.get(html_id, el.name) or el.field_name or ""
    return tree


def describe(el: Element, value: str | None = None) -> str:
    """One element as a line: ``[3] textbox "Full name" value=""``."""
    value = el.value if value is None else value
    if el.role in ("link", "button"):
        return f'[{el.id}] {el.role} "{el.name}"'
    if el.role == "combobox":
        return f'[{el.id}] combobox "{el.name}" value="{value}" options=[{", ".join(el.options)}]'
    return f'[{el.id}] textbox "{el.name}" value="{value}"'


def render_lines(tree: PageTree, values: dict[int, str] | None = None) -> list[str]:
    """The page's lines with element markers replaced by element descriptions."""
    values = values or {}
    out = []
    for line in tree.lines:
        if line.startswith("\x00"):
            eid = int(line[1:])
            out.append(describe(tree.elements[eid], values.get(eid)))
        else:
            out.append(line)
    return out
