"""The Character Card specs' JSON objects (V2 and V3), and the card's error.

The models here validate a card's ``data`` strictly, as JSON types, and keep
every field they do not know: both specs require that unknown fields survive
a round trip. :class:`~dramaturg.drama.cards.CharacterCard` wraps one of
:class:`CardDataV2` / :class:`CardDataV3`; :func:`~dramaturg.drama.cards.load_card`
reads them from files.

Specs: https://github.com/malfoyslastname/character-card-spec-v2 and
https://github.com/kwaroran/character-card-spec-v3.

Example:
    >>> CardDataV2(name="Horatio", description="A loyal friend.").tags
    []
"""

from __future__ import annotations

import copy
from typing import Annotated, Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    model_serializer,
)
from pydantic_core import PydanticCustomError

from dramaturg.errors import ConfigError

__all__ = [
    "MAX_CARD_BYTES",
    "SPEC_V2",
    "SPEC_V3",
    "SPEC_VERSIONS",
    "V1_FIELDS",
    "Asset",
    "CardDataV2",
    "CardDataV3",
    "CardError",
    "Lorebook",
    "LorebookEntry",
    "LorebookEntryV3",
    "LorebookV3",
]

MAX_CARD_BYTES = 20 * 1024 * 1024
"""The largest card file (or decompressed PNG text chunk) :func:`~dramaturg.drama.cards.load_card` reads."""

SPEC_V2 = "chara_card_v2"
SPEC_V3 = "chara_card_v3"
#: Each spec and the ``spec_version`` it writes.
SPEC_VERSIONS = {SPEC_V2: "2.0", SPEC_V3: "3.0"}
#: The fields of a flat V1 card (no ``spec``, no ``data``).
V1_FIELDS = ("name", "description", "personality", "scenario", "first_mes", "mes_example")


class CardError(ConfigError):
    """A character card could not be read or written; the message names the file and the fault.

    Attributes:
        source: the file (or ``"<bytes>"``, ``"<dict>"``) the card came from.
        problem: what is wrong with it.

    Example:
        >>> try:
        ...     load_card(b"not a card", name="ophelia.json")
        ... except CardError as e:
        ...     e.source
        'ophelia.json'
    """

    def __init__(self, source: str, problem: str) -> None:
        super().__init__(f"character card {source}: {problem}")
        self.source = source
        self.problem = problem


# --- the spec's JSON objects ------------------------------------------------


def _number(value: Any) -> int | float:
    # JSON numbers stay the type they were (5 stays 5, 5.0 stays 5.0), so a
    # round trip writes back the same text; booleans are not numbers here.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError("number_type", "Input should be a number")
    return value


def _number_or_text(value: Any) -> int | float | str:
    if isinstance(value, str):
        return value
    return _number(value)


_Number = Annotated[int | float, PlainValidator(_number)]
_NumberOrText = Annotated[int | float | str, PlainValidator(_number_or_text)]


class _SpecModel(BaseModel):
    """Strict JSON validation; unknown keys kept; required keys always written.

    Both specs tell readers to keep fields they do not know so they can be
    exported again (V2: "must never be destroyed"; V3: "MAY save the fields
    that are not present in the specification"), hence ``extra="allow"``.
    Dumps use ``exclude_unset`` so optional keys absent from a card stay
    absent; the serializer adds back the keys the spec requires.
    """

    model_config = ConfigDict(strict=True, extra="allow")
    REQUIRED: ClassVar[tuple[str, ...]] = ()

    @model_serializer(mode="wrap")
    def _with_required(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> dict[str, Any]:
        out: dict[str, Any] = handler(self)
        if info.exclude_unset:
            for name in self.REQUIRED:
                if name not in out:
                    out[name] = _plain(getattr(self, name))
        return out


def _plain(value: Any) -> Any:
    # Defaults of required fields are plain JSON ("" [] {} 0 True False).
    return copy.deepcopy(value)


class LorebookEntry(_SpecModel):
    """One lorebook entry (Character Card V2).

    Example:
        >>> LorebookEntry(keys=["Elsinore"], content="A castle in Denmark.").enabled
        True
    """

    REQUIRED: ClassVar[tuple[str, ...]] = (
        "keys",
        "content",
        "extensions",
        "enabled",
        "insertion_order",
    )

    keys: list[str] = Field(default_factory=list)
    content: str = ""
    extensions: dict[str, Any] = Field(default_factory=dict)
    enabled: bool = True
    insertion_order: _Number = 0
    case_sensitive: bool | None = None
    name: str | None = None
    priority: _Number | None = None
    id: _NumberOrText | None = None
    comment: str | None = None
    selective: bool | None = None
    secondary_keys: list[str] | None = None
    constant: bool | None = None
    position: str | None = None


class LorebookEntryV3(LorebookEntry):
    """A V3 lorebook entry: adds ``use_regex`` (keys are regular expressions when true)."""

    REQUIRED: ClassVar[tuple[str, ...]] = (*LorebookEntry.REQUIRED, "use_regex")

    use_regex: bool = False


class Lorebook(_SpecModel):
    """A card's lorebook (``character_book``), Character Card V2."""

    REQUIRED: ClassVar[tuple[str, ...]] = ("extensions", "entries")

    name: str | None = None
    description: str | None = None
    scan_depth: _Number | None = None
    token_budget: _Number | None = None
    recursive_scanning: bool | None = None
    extensions: dict[str, Any] = Field(default_factory=dict)
    entries: list[LorebookEntry] = Field(default_factory=list)


class LorebookV3(Lorebook):
    """A V3 lorebook: its entries are :class:`LorebookEntryV3`."""

    entries: list[LorebookEntryV3] = Field(default_factory=list)  # type: ignore[assignment]


class Asset(_SpecModel):
    """A V3 asset: an icon, background, emotion ... by URI (``ccdefault:``, ``embeded://``, https)."""

    REQUIRED: ClassVar[tuple[str, ...]] = ("type", "uri", "name", "ext")

    type: str
    uri: str
    name: str = ""
    ext: str = "unknown"


class CardDataV2(_SpecModel):
    """The ``data`` object of a Character Card V2.

    ``creator_notes`` is for the person importing the card and is never put
    in a prompt (see :meth:`CharacterCard.to_persona`).

    Example:
        >>> CardDataV2(name="Horatio", description="A loyal friend.").tags
        []
    """

    REQUIRED: ClassVar[tuple[str, ...]] = (
        "name",
        "description",
        "personality",
        "scenario",
        "first_mes",
        "mes_example",
        "creator_notes",
        "system_prompt",
        "post_history_instructions",
        "alternate_greetings",
        "tags",
        "creator",
        "character_version",
        "extensions",
    )

    name: str = ""
    description: str = ""
    personality: str = ""
    scenario: str = ""
    first_mes: str = ""
    mes_example: str = ""
    creator_notes: str = ""
    system_prompt: str = ""
    post_history_instructions: str = ""
    alternate_greetings: list[str] = Field(default_factory=list)
    character_book: Lorebook | None = None
    tags: list[str] = Field(default_factory=list)
    creator: str = ""
    character_version: str = ""
    extensions: dict[str, Any] = Field(default_factory=dict)


class CardDataV3(CardDataV2):
    """The ``data`` object of a Character Card V3: V2's fields plus the V3 additions."""

    REQUIRED: ClassVar[tuple[str, ...]] = (*CardDataV2.REQUIRED, "group_only_greetings")

    character_book: LorebookV3 | None = None  # type: ignore[assignment]
    assets: list[Asset] | None = None
    nickname: str | None = None
    creator_notes_multilingual: dict[str, str] | None = None
    source: list[str] | None = None
    group_only_greetings: list[str] = Field(default_factory=list)
    creation_date: _Number | None = None
    modification_date: _Number | None = None
