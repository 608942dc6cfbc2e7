"""Character ids that cannot be used: they become attribute names.

The ensemble actor answers for every character at once with a schema that
has one field per character id (``{"hamlet": {...}, "ophelia": {...}}``),
built with ``pydantic.create_model``. An id such as ``model_config``,
``json`` or ``class`` would replace or clash with an attribute of the model,
so a file naming one is refused when it is read, with the id in the message.

Example:
    >>> print(reserved_id("class"))
    'class' is a Python keyword; choose another id, like 'c_class'
    >>> reserved_id("hamlet") is None
    True
"""

from __future__ import annotations

import keyword

from pydantic import BaseModel

__all__ = ["reserved_id"]

_TAKEN = frozenset(name for name in dir(BaseModel) if not name.startswith("__"))


def reserved_id(cid: str) -> str | None:
    """Why ``cid`` cannot be a character id, or ``None`` when it can."""
    if keyword.iskeyword(cid) or keyword.issoftkeyword(cid):
        why = "a Python keyword"
    elif cid.startswith(("_", "model_")) or cid in _TAKEN:
        why = "a name pydantic models keep for themselves"
    else:
        return None
    return f"{cid!r} is {why}; choose another id, like 'c_{cid.lstrip('_')}'"
