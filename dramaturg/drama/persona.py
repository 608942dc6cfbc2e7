"""What an actor plays from: a character's persona, its lore for memory, its id in a play.

A :class:`~dramaturg.drama.cards.CharacterCard` gives a :class:`Persona`
(the prompt's part: no creator notes, no metadata) and its lorebook as
:class:`Lore` records that ``Memory.record`` accepts as they are;
:func:`character_id` is the id the character gets in a blueprint.

Example:
    >>> character_id("Zoë"), Persona(name="Zoë", greeting="Hello.").greeting
    ('zoe', 'Hello.')
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from dramaturg._ids import reserved_id

__all__ = ["Lore", "Persona", "character_id"]


class Persona(BaseModel):
    """What an actor needs to play a character: no creator notes, no metadata.

    Example:
        >>> p = Persona(name="Ophelia", description="Polonius's daughter.")
        >>> print(p.prompt_text())
        Character: Ophelia
        Description: Polonius's daughter.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    description: str = ""
    personality: str = ""
    scenario: str = ""
    greeting: str = ""
    example_dialogue: str = ""
    system_prompt: str = ""

    def prompt_text(self) -> str:
        """The persona as plain text for an actor prompt (empty parts left out)."""
        parts = [self.system_prompt] if self.system_prompt else []
        lines = [f"Character: {self.name}"]
        for label, value in (
            ("Description", self.description),
            ("Personality", self.personality),
            ("Scenario", self.scenario),
            ("First message", self.greeting),
        ):
            if value:
                lines.append(f"{label}: {value}")
        if self.example_dialogue:
            lines.append(f"Example dialogue:\n{self.example_dialogue}")
        parts.append("\n".join(lines))
        return "\n\n".join(parts)


@dataclass(kw_only=True, frozen=True, slots=True)
class Lore:
    """One lorebook entry, ready for memory.

    It has the attributes ``Memory.record`` reads (``id``, ``kind``,
    ``text``, ``entities``, ``data``), so ``memory.record(lore,
    witnesses={...})`` stores it; ``data`` keeps the keys and ordering
    fields so nothing about the entry is lost.

    Example:
        >>> lore = Lore(id="lore:ophelia:0", character="Ophelia", keys=("river",),
        ...             content="She drowns in the brook.")
        >>> lore.text, lore.kind
        ('She drowns in the brook.', 'lore')
    """

    id: str
    character: str
    keys: tuple[str, ...]
    content: str
    secondary_keys: tuple[str, ...] = ()
    enabled: bool = True
    insertion_order: int | float = 0
    priority: int | float | None = None
    constant: bool = False
    selective: bool = False
    case_sensitive: bool | None = None
    use_regex: bool = False
    position: str | None = None
    name: str | None = None
    decorators: tuple[str, ...] = ()
    source: Literal["lorebook"] = "lorebook"

    @property
    def kind(self) -> str:
        """The memory event kind: ``"lore"``."""
        return "lore"

    @property
    def text(self) -> str:
        """The text to remember (the entry's content, decorators removed)."""
        return self.content

    @property
    def entities(self) -> frozenset[str]:
        """The character the lore belongs to."""
        return frozenset({self.character}) if self.character else frozenset()

    @property
    def data(self) -> dict[str, Any]:
        """The entry's matching and ordering fields, JSON-ready."""
        return {
            "source": self.source,
            "character": self.character,
            "keys": list(self.keys),
            "secondary_keys": list(self.secondary_keys),
            "enabled": self.enabled,
            "insertion_order": self.insertion_order,
            "priority": self.priority,
            "constant": self.constant,
            "selective": self.selective,
            "case_sensitive": self.case_sensitive,
            "use_regex": self.use_regex,
            "position": self.position,
            "name": self.name,
            "decorators": list(self.decorators),
        }


# Letters NFKD leaves whole (they are not a base letter plus an accent).
_LATIN_FOLD = str.maketrans(
    {
        "ß": "ss",
        "æ": "ae",
        "Æ": "AE",
        "œ": "oe",
        "Œ": "OE",
        "ø": "o",
        "Ø": "O",
        "đ": "d",
        "Đ": "D",
        "ð": "d",
        "Ð": "D",
        "ł": "l",
        "Ł": "L",
        "þ": "th",
        "Þ": "TH",
        "\u0131": "i",
    }
)  # dotless i


def character_id(name: str) -> str:
    """The id a card's character gets in a play: its name as lower-case ASCII snake_case.

    Accents are dropped (``"Zoë Ångström"`` -> ``zoe_angstrom``) and a few
    letters spelled out (``"Ægir"`` -> ``aegir``). A name with no Latin
    letters to keep (``"李白"``) gets ``char_`` and six hex digits of its
    hash: stable, whatever else is in the cast. An id that starts with a
    digit or that pydantic or Python keep for themselves gets ``c_`` in front.

    Example:
        >>> character_id("Zoë"), character_id("Model Config"), character_id("李白")
        ('zoe', 'c_model_config', 'char_b23f84')
    """
    folded = unicodedata.normalize("NFKD", name.strip().translate(_LATIN_FOLD))
    slug = re.sub(r"[^a-z0-9]+", "_", folded.encode("ascii", "ignore").decode().lower()).strip("_")
    if not slug:
        return "char_" + hashlib.sha256(name.strip().encode("utf-8")).hexdigest()[:6]
    if not slug[0].isalpha() or reserved_id(slug):
        slug = f"c_{slug}"
    return slug
