"""Character cards from other tools: Character Card V1, V2 and V3, as JSON or PNG.

Cards come as ``.json`` files or as PNG images that carry the card as
base64 JSON in a text chunk (``chara`` for V2, ``ccv3`` for V3; ``ccv3``
wins when a PNG has both). :func:`load_card` reads any of them, upgrades
the flat V1 format to V2, and returns one :class:`CharacterCard`:

* :meth:`CharacterCard.to_persona` gives the fields an actor prompt needs.
  The creator's notes are for the human who imports the card, never for a
  model: they are left out of every persona and prompt text.
* :meth:`CharacterCard.memories` turns the lorebook into :class:`Lore`
  records that ``Memory.record`` accepts as they are.
* :func:`character_id` is the id a card's character gets in a play.
* :meth:`CharacterCard.to_json`, :meth:`~CharacterCard.save_json` and
  :meth:`~CharacterCard.save_png` write the card back. Unknown fields and
  extensions survive a round trip unchanged, as both specs require.

Specs: https://github.com/malfoyslastname/character-card-spec-v2 and
https://github.com/kwaroran/character-card-spec-v3.

Example:
    >>> card = load_card({"spec": "chara_card_v2", "spec_version": "2.0",
    ...                   "data": {"name": "Ophelia", "first_mes": "My lord?"}})
    >>> card.to_persona().greeting
    'My lord?'
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import json
import os
import re
import struct
import tempfile
import unicodedata
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
)
from pydantic_core import PydanticCustomError

from dramaturg._files import InputFileError, parse_json, read_bytes
from dramaturg._ids import reserved_id
from dramaturg._untrusted import warn_if_injected
from dramaturg.errors import ConfigError

__all__ = [
    "MAX_CARD_BYTES",
    "Asset",
    "CardDataV2",
    "CardDataV3",
    "CardError",
    "CharacterCard",
    "Lore",
    "Lorebook",
    "LorebookEntry",
    "LorebookEntryV3",
    "LorebookV3",
    "Persona",
    "character_id",
    "load_card",
]

MAX_CARD_BYTES = 20 * 1024 * 1024
"""The largest card file (or decompressed PNG text chunk) :func:`load_card` reads."""

SPEC_V2 = "chara_card_v2"
SPEC_V3 = "chara_card_v3"
_VERSIONS = {SPEC_V2: "2.0", SPEC_V3: "3.0"}
_V1_FIELDS = ("name", "description", "personality", "scenario", "first_mes", "mes_example")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_KEYWORDS = {SPEC_V3: "ccv3", SPEC_V2: "chara"}
_V2_BACKFILL_NOTE = (
    "This character card is Character Card V3, but it is loaded as a Character Card V2. "
    "Please use a Character Card V3 compatible application to use this character card properly."
)


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


# --- what the rest of dramaturg uses ------------------------------------------


_Data = TypeVar("_Data", bound=CardDataV2)


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


_CHAR_MACRO = re.compile(r"\{\{char\}\}|<bot>|<char>", re.IGNORECASE)
_USER_MACRO = re.compile(r"\{\{user\}\}|<user>", re.IGNORECASE)


@dataclass(kw_only=True, frozen=True)
class CharacterCard:
    """A character card of any version, normalised to V2 or V3.

    Attributes:
        spec: ``"chara_card_v2"`` or ``"chara_card_v3"`` (V1 cards are upgraded to V2).
        spec_version: as the card gave it (``"2.0"``, ``"3.0"``).
        data: the validated card data.
        raw: the card's JSON exactly as read (for V1, the flat V1 object).
        source: where it came from, for messages.
        from_v1: true when the card was a flat V1 card upgraded on load.

    Example:
        >>> card = load_card({"name": "Yorick", "description": "A jester, long dead."})
        >>> card.spec, card.from_v1, card.to_json()["data"]["name"]
        ('chara_card_v2', True, 'Yorick')
    """

    spec: Literal["chara_card_v2", "chara_card_v3"]
    spec_version: str
    data: CardDataV2
    raw: dict[str, Any] = field(default_factory=dict)
    source: str = "<card>"
    from_v1: bool = False

    def __post_init__(self) -> None:
        if self.spec not in _VERSIONS:
            raise CardError(
                self.source,
                f"unknown spec {self.spec!r}: expected {' or '.join(map(repr, _VERSIONS))}",
            )
        want = CardDataV3 if self.spec == SPEC_V3 else CardDataV2
        if not isinstance(self.data, want) or isinstance(self.data, CardDataV3) != (
            want is CardDataV3
        ):
            raise CardError(
                self.source,
                f"spec {self.spec!r} needs data of type {want.__name__}, got {type(self.data).__name__}",
            )

    @property
    def name(self) -> str:
        """The character's name."""
        return self.data.name

    def to_json(self) -> dict[str, Any]:
        """The card as a JSON-ready dict, unknown fields and extensions kept as read."""
        out = copy.deepcopy(self.raw)
        out["spec"] = self.spec
        out["spec_version"] = self.spec_version
        data = self.data.model_dump(mode="json", exclude_unset=True)
        out["data"] = _ordered_like(data, self.raw.get("data"))
        return out

    def save_json(self, path: str | os.PathLike[str], *, indent: int | None = 2) -> Path:
        """Write the card as a JSON file (atomically) and return its path."""
        text = json.dumps(self.to_json(), ensure_ascii=False, indent=indent)
        return _write_atomic(Path(path), text.encode("utf-8"))

    def to_png_bytes(self, image_bytes: bytes | None = None, *, backfill_v2: bool = True) -> bytes:
        """The card embedded in a PNG (a 1x1 transparent pixel when no image is given).

        Card chunks already in ``image_bytes`` are replaced. A V3 card is
        written to ``ccv3`` and, with ``backfill_v2``, also to ``chara`` for
        V2-only tools, with the V3 spec's notice prepended to its creator notes.
        """
        image = _minimal_png() if image_bytes is None else bytes(image_bytes)
        card = self.to_json()
        texts = [(_PNG_KEYWORDS[self.spec], card)]
        if self.spec == SPEC_V3 and backfill_v2:
            v2 = {**card, "spec": SPEC_V2, "spec_version": "2.0", "data": dict(card["data"])}
            notes = v2["data"].get("creator_notes", "")
            v2["data"]["creator_notes"] = f"{_V2_BACKFILL_NOTE}\n\n{notes}".rstrip()
            texts.append(("chara", v2))
        return _png_with_cards(image, texts)

    def save_png(
        self,
        path: str | os.PathLike[str],
        image_bytes: bytes | None = None,
        *,
        backfill_v2: bool = True,
    ) -> Path:
        """Write the card as a PNG file (atomically) and return its path; see :meth:`to_png_bytes`."""
        return _write_atomic(Path(path), self.to_png_bytes(image_bytes, backfill_v2=backfill_v2))

    def to_persona(self, *, user: str | None = None) -> Persona:
        """The fields an actor plays from, with ``{{char}}`` (and ``{{user}}``, if given) filled in.

        V3's ``nickname`` is used as the name when present, as the spec says.
        ``{{original}}`` in the system prompt (V2: "the default system
        prompt") is dropped. Creator notes are never included.
        """
        d = self.data

        def fill(text: str) -> str:
            return self._fill(text, user)

        return Persona(
            name=self._played_name,
            description=fill(d.description),
            personality=fill(d.personality),
            scenario=fill(d.scenario),
            greeting=fill(d.first_mes),
            example_dialogue=fill(d.mes_example),
            system_prompt=fill(d.system_prompt.replace("{{original}}", "")).strip(),
        )

    @property
    def _played_name(self) -> str:
        """The name the character is played under: V3's nickname when there is one."""
        d = self.data
        return (d.nickname if isinstance(d, CardDataV3) else None) or d.name

    def _fill(self, text: str, user: str | None) -> str:
        """``{{char}}`` (and ``{{user}}``, if given) filled in."""
        text = _CHAR_MACRO.sub(lambda _: self._played_name, text)
        return text if user is None else _USER_MACRO.sub(lambda _: user, text)

    def prompt_text(self, *, user: str | None = None) -> str:
        """The persona as plain text for an actor prompt (see :meth:`Persona.prompt_text`)."""
        return self.to_persona(user=user).prompt_text()

    def memories(self, *, include_disabled: bool = False, user: str | None = None) -> list[Lore]:
        """The lorebook as :class:`Lore` records, in insertion order.

        Disabled entries are skipped (unless ``include_disabled``), and so
        are entries whose content is empty, as the spec says. V3 decorators
        (leading ``@@name value`` lines) move from the content to ``decorators``.
        Macros are filled in the content and the keys as in :meth:`to_persona`:
        ``{{char}}`` always, ``{{user}}`` when ``user`` is given.
        """
        book = self.data.character_book
        if book is None:
            return []
        lore: list[Lore] = []
        for i, e in enumerate(book.entries):
            if not (e.enabled or include_disabled):
                continue
            decorators, content = _split_decorators(e.content)
            if not content:
                continue
            lore.append(
                Lore(
                    id=f"lore:{self.data.name}:{e.id if e.id is not None else i}",
                    character=self.data.name,
                    keys=tuple(self._fill(k, user) for k in e.keys),
                    content=self._fill(content, user),
                    secondary_keys=tuple(self._fill(k, user) for k in e.secondary_keys or ()),
                    enabled=e.enabled,
                    insertion_order=e.insertion_order,
                    priority=e.priority,
                    constant=bool(e.constant),
                    selective=bool(e.selective),
                    case_sensitive=e.case_sensitive,
                    use_regex=isinstance(e, LorebookEntryV3) and e.use_regex,
                    position=e.position,
                    name=e.name,
                    decorators=decorators,
                )
            )
        # Stable sort: equal insertion_order keeps the lorebook's order.
        return sorted(lore, key=lambda x: x.insertion_order)


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


def _split_decorators(content: str) -> tuple[tuple[str, ...], str]:
    lines = content.split("\n")
    n = 0
    while n < len(lines) and lines[n].startswith("@@"):
        n += 1
    return tuple(lines[:n]), "\n".join(lines[n:]).strip()


def _ordered_like(new: Any, old: Any) -> Any:
    # Keys come back in the order the card had them, so a saved card diffs cleanly.
    if isinstance(new, dict) and isinstance(old, dict):
        keys = [k for k in old if k in new] + [k for k in new if k not in old]
        return {k: _ordered_like(new[k], old.get(k)) for k in keys}
    if isinstance(new, list) and isinstance(old, list) and len(new) == len(old):
        return [_ordered_like(n, o) for n, o in zip(new, old, strict=True)]
    return new


# --- loading -----------------------------------------------------------------


def load_card(
    card: str | os.PathLike[str] | bytes | bytearray | Mapping[str, Any],
    *,
    name: str | None = None,
) -> CharacterCard:
    """Read a character card from a ``.json``/``.png`` path, file bytes, or a parsed dict.

    Args:
        card: a path (a ``str`` is always a path), the bytes of a JSON or PNG
            file, or the card's JSON object.
        name: what to call the card in error messages (defaults to the path).

    Raises:
        CardError: the card is missing, over 20 MiB, not UTF-8 JSON, nested
            over 100 levels, not a valid PNG (signature, truncation, CRC),
            has no ``chara``/``ccv3`` chunk, bad base64, an unknown
            ``spec``, or fields of the wrong type (the message gives the
            field's path). Nothing is returned half-loaded.

    Warns:
        UntrustedContentWarning: the text that reaches the actor looks like a
            prompt injection ("ignore previous instructions", a ``system:``
            line...). The card still loads; actors see it fenced as notes.

    Example:
        >>> load_card({"spec": "chara_card_v3", "spec_version": "3.0",
        ...            "data": {"name": "Gertrude", "nickname": "the Queen"}}).to_persona().name
        'the Queen'
    """
    if isinstance(card, Mapping):
        return _flagged(_from_dict(copy.deepcopy(dict(card)), name or "<dict>"))
    if isinstance(card, bytes | bytearray | memoryview):
        blob = bytes(card)
        src = name or "<bytes>"
        _check_size(len(blob), src)
        return _flagged(_from_blob(blob, src, suffix=""))
    path = Path(card)
    src = name or str(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise CardError(src, "no such file") from None
    except OSError as e:
        raise CardError(src, f"cannot read the file ({e.strerror})") from None
    _check_size(size, src)
    try:  # read with a bound too: a FIFO or /dev/zero has no size to stat
        blob = read_bytes(path, label=src, max_bytes=MAX_CARD_BYTES)
    except InputFileError as e:
        raise CardError(src, f"the file {e.problem}") from None
    return _flagged(_from_blob(blob, src, suffix=path.suffix.lower()))


def _flagged(card: CharacterCard) -> CharacterCard:
    """The card, after a warning if what reaches the actor looks like a prompt injection.

    It still loads: actors see its text fenced as notes, labelled as not
    instructions (the prompt says so again when it is flagged).
    """
    text = "\n".join([card.prompt_text(), *(lore.text for lore in card.memories())])
    warn_if_injected(text, f"character card {card.source}")
    return card


def _check_size(size: int, src: str) -> None:
    if size > MAX_CARD_BYTES:
        raise CardError(
            src,
            f"the file is {size / 2**20:.1f} MiB, over the {MAX_CARD_BYTES // 2**20} MiB limit "
            "for character cards; is it really a card?",
        )


def _from_blob(blob: bytes, src: str, *, suffix: str) -> CharacterCard:
    if suffix == ".png":
        is_png = True
    elif suffix == ".json":
        is_png = False
    else:  # sniff: JSON starts with "{" (maybe after a BOM or spaces); anything else must be PNG
        is_png = not blob.lstrip(b"\xef\xbb\xbf \t\r\n").startswith((b"{", b"["))
    if not is_png:
        return _from_dict(_parse_json(blob, src, "the file"), src)
    keyword, payload = _card_chunk(blob, src)
    try:
        decoded = base64.b64decode("".join(payload.split()), validate=True)
    except (binascii.Error, ValueError) as e:
        raise CardError(src, f"the PNG '{keyword}' chunk is not valid base64 ({e})") from None
    return _from_dict(_parse_json(decoded, src, f"the PNG '{keyword}' chunk"), src)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


def _parse_json(blob: bytes, src: str, what: str) -> Any:
    try:  # not UTF-8, or nested deeper than any card (json.loads would raise RecursionError)
        return parse_json(blob, parse_constant=_reject_constant)
    except InputFileError as e:
        raise CardError(src, f"{what} {e.problem}") from None
    except json.JSONDecodeError as e:
        raise CardError(
            src, f"{what} is not valid JSON ({e.msg} at line {e.lineno} column {e.colno})"
        ) from None
    except ValueError as e:
        raise CardError(src, f"{what} is not valid JSON ({e})") from None


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "null" if value is None else "a number"
    )


def _from_dict(obj: Any, src: str) -> CharacterCard:
    if not isinstance(obj, dict):
        raise CardError(src, f"a card must be a JSON object, got {_kind(obj)}")
    spec = obj.get("spec")
    if spec is None:
        if "data" not in obj and any(k in obj for k in _V1_FIELDS):
            return _upgrade_v1(obj, src)
        raise CardError(
            src,
            "missing 'spec': expected 'chara_card_v2' or 'chara_card_v3' (or a flat V1 card "
            "with 'name', 'description', 'first_mes', ...)",
        )
    if spec not in _VERSIONS:
        raise CardError(src, f"unknown spec {spec!r}: expected 'chara_card_v2' or 'chara_card_v3'")
    version = obj.get("spec_version", _VERSIONS[spec])
    if not isinstance(version, str):
        raise CardError(
            src, f"'spec_version' must be a string like {_VERSIONS[spec]!r}, got {version!r}"
        )
    data = obj.get("data")
    if not isinstance(data, dict):
        raise CardError(src, f"'data' must be an object, got {_kind(data)}")
    model = CardDataV3 if spec == SPEC_V3 else CardDataV2
    return CharacterCard(
        spec=spec, spec_version=version, data=_validate(model, data, src), raw=obj, source=src
    )


def _upgrade_v1(obj: dict[str, Any], src: str) -> CharacterCard:
    for key in _V1_FIELDS:
        if key in obj and not isinstance(obj[key], str):
            raise CardError(src, f"{key}: must be a string in a V1 card, got {_kind(obj[key])}")
    notes = obj.get("creatorcomment")  # SillyTavern's V1 name for creator notes
    tags = obj.get("tags")
    data: dict[str, Any] = {key: obj.get(key, "") for key in _V1_FIELDS}
    data.update(
        creator_notes=notes if isinstance(notes, str) else "",
        system_prompt="",
        post_history_instructions="",
        alternate_greetings=[],
        tags=list(tags) if isinstance(tags, list) and all(isinstance(t, str) for t in tags) else [],
        creator="",
        character_version="",
        extensions={},
    )
    # The V1 keys stay at the top level too, as V2 exporters keep them for old readers.
    return CharacterCard(
        spec=SPEC_V2,
        spec_version="2.0",
        data=_validate(CardDataV2, data, src),
        raw=obj,
        source=src,
        from_v1=True,
    )


def _validate(model: type[_Data], data: dict[str, Any], src: str) -> _Data:
    try:
        return model.model_validate(data)
    except ValidationError as err:
        problems = []
        for e in err.errors()[:3]:
            path = ".".join(str(p) for p in ("data", *e["loc"]))
            got = "" if e["type"] == "missing" else f" (got {_short(e['input'])})"
            problems.append(f"{path}: {e['msg']}{got}")
        more = err.error_count() - len(problems)
        tail = f"; and {more} more" if more > 0 else ""
        raise CardError(src, "; ".join(problems) + tail) from None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --- PNG chunks (no image library: the card is all we need) -----------------------


def _png_chunks(blob: bytes, src: str) -> list[tuple[bytes, bytes]]:
    """Every chunk up to IEND as ``(type, data)``, with signature and CRCs checked."""
    if not blob.startswith(_PNG_SIGNATURE):
        raise CardError(src, f"not a PNG file (bad signature {blob[:8]!r})")
    chunks: list[tuple[bytes, bytes]] = []
    pos = len(_PNG_SIGNATURE)
    while True:
        if pos + 12 > len(blob):
            raise CardError(src, f"truncated PNG: the file ends at byte {len(blob)}, before IEND")
        length, ctype = struct.unpack_from(">I4s", blob, pos)
        if not ctype.isalpha() or length > 2**31 - 1:
            raise CardError(src, f"corrupt PNG: bad chunk header at byte {pos}")
        end = pos + 12 + length
        if end > len(blob):
            raise CardError(
                src,
                f"truncated PNG: chunk {ctype.decode()!r} at byte {pos} needs {length} bytes "
                f"but the file ends at byte {len(blob)}",
            )
        body = blob[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack_from(">I", blob, pos + 8 + length)
        if zlib.crc32(ctype + body) != crc:
            raise CardError(
                src, f"corrupt PNG: chunk {ctype.decode()!r} at byte {pos} has a bad CRC"
            )
        chunks.append((ctype, body))
        pos = end
        if ctype == b"IEND":
            break
    if chunks[0][0] != b"IHDR":
        raise CardError(
            src, f"corrupt PNG: the first chunk is {chunks[0][0].decode()!r}, not 'IHDR'"
        )
    return chunks


def _inflate(data: bytes, src: str, keyword: str) -> bytes:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, MAX_CARD_BYTES + 1)
    except zlib.error as e:
        raise CardError(src, f"the PNG '{keyword}' chunk does not decompress ({e})") from None
    if len(out) > MAX_CARD_BYTES or inflater.unconsumed_tail:
        raise CardError(src, f"the PNG '{keyword}' chunk inflates past the 20 MiB limit")
    return out


def _text_keyword(ctype: bytes, body: bytes) -> str | None:
    if ctype not in (b"tEXt", b"zTXt", b"iTXt") or b"\0" not in body:
        return None
    return body.split(b"\0", 1)[0].decode("latin-1")


def _text_value(ctype: bytes, body: bytes, src: str, keyword: str) -> str:
    rest = body.split(b"\0", 1)[1]
    bad = CardError(src, f"corrupt PNG: malformed {ctype.decode()} chunk '{keyword}'")
    if ctype == b"tEXt":
        return rest.decode("latin-1")
    if ctype == b"zTXt":
        if not rest or rest[0] != 0:
            raise bad
        return _inflate(rest[1:], src, keyword).decode("latin-1")
    # iTXt: flag, method, language\0, translated keyword\0, UTF-8 text
    if len(rest) < 2 or rest[2:].count(b"\0") < 2:
        raise bad
    flag, method = rest[0], rest[1]
    text = rest[2:].split(b"\0", 2)[2]
    if flag == 1:
        if method != 0:
            raise bad
        text = _inflate(text, src, keyword)
    try:
        return text.decode("utf-8")
    except UnicodeDecodeError:
        raise bad from None


def _card_chunk(blob: bytes, src: str) -> tuple[str, str]:
    """The card's keyword and base64 text: ``ccv3`` if present, else ``chara``."""
    found: dict[str, tuple[bytes, bytes]] = {}
    for ctype, body in _png_chunks(blob, src):
        keyword = _text_keyword(ctype, body)
        if keyword is not None and keyword.lower() in ("ccv3", "chara"):
            found.setdefault(keyword.lower(), (ctype, body))
    for keyword in ("ccv3", "chara"):
        if keyword in found:
            return keyword, _text_value(*found[keyword], src, keyword)
    raise CardError(
        src, "the PNG has no 'chara' or 'ccv3' text chunk, so it carries no character card"
    )


def _chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body))


def _minimal_png() -> bytes:
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)  # 1x1, 8-bit RGBA
    pixel = zlib.compress(b"\x00\x00\x00\x00\x00")  # filter byte + one transparent pixel
    return _PNG_SIGNATURE + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", pixel) + _chunk(b"IEND", b"")


def _png_with_cards(image: bytes, texts: list[tuple[str, dict[str, Any]]]) -> bytes:
    chunks = _png_chunks(image, "(image_bytes)")
    keep = [
        (t, b) for t, b in chunks if (_text_keyword(t, b) or "").lower() not in ("ccv3", "chara")
    ]
    new = [(b"tEXt", kw.encode("latin-1") + b"\0" + _b64_json(card)) for kw, card in texts]
    out = keep[:-1] + new + keep[-1:]  # the card goes just before IEND
    return _PNG_SIGNATURE + b"".join(_chunk(t, b) for t, b in out)


def _b64_json(card: dict[str, Any]) -> bytes:
    return base64.b64encode(json.dumps(card, ensure_ascii=False).encode("utf-8"))


def _write_atomic(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
