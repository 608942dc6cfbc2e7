"""Character cards from other tools: Character Card V1, V2 and V3, as JSON or PNG.

Cards come as ``.json`` files or as PNG images that carry the card as
base64 JSON in a text chunk (``chara`` for V2, ``ccv3`` for V3; ``ccv3``
wins when a PNG has both). :func:`load_card` reads any of them, upgrades
the flat V1 format to V2, and returns one :class:`CharacterCard`:

* :meth:`CharacterCard.to_persona` gives the fields an actor prompt needs
  (a :class:`~dramaturg.drama.persona.Persona`). The creator's notes are for
  the human who imports the card, never for a model: they are left out of
  every persona and prompt text.
* :meth:`CharacterCard.memories` turns the lorebook into
  :class:`~dramaturg.drama.persona.Lore` records that ``Memory.record``
  accepts as they are.
* :func:`~dramaturg.drama.persona.character_id` is the id a card's character gets in a play.
* :meth:`CharacterCard.to_json`, :meth:`~CharacterCard.save_json` and
  :meth:`~CharacterCard.save_png` write the card back. Unknown fields and
  extensions survive a round trip unchanged, as both specs require.

The spec's objects are in :mod:`dramaturg.drama.card_spec`, the PNG chunks
in :mod:`dramaturg.drama._card_png`; every public name of those and of
:mod:`dramaturg.drama.persona` can be imported from here too.

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
import json
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import ValidationError

from dramaturg._files import InputFileError, parse_json, read_bytes
from dramaturg._untrusted import warn_if_injected
from dramaturg.drama._card_png import PNG_KEYWORDS, card_chunk, minimal_png, png_with_cards
from dramaturg.drama.card_spec import (
    MAX_CARD_BYTES,
    SPEC_V2,
    SPEC_V3,
    SPEC_VERSIONS,
    V1_FIELDS,
    Asset,
    CardDataV2,
    CardDataV3,
    CardError,
    Lorebook,
    LorebookEntry,
    LorebookEntryV3,
    LorebookV3,
)
from dramaturg.drama.persona import Lore, Persona, character_id

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

_V2_BACKFILL_NOTE = (
    "This character card is Character Card V3, but it is loaded as a Character Card V2. "
    "Please use a Character Card V3 compatible application to use this character card properly."
)
_Data = TypeVar("_Data", bound=CardDataV2)


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
        if self.spec not in SPEC_VERSIONS:
            raise CardError(
                self.source,
                f"unknown spec {self.spec!r}: expected {' or '.join(map(repr, SPEC_VERSIONS))}",
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
        image = minimal_png() if image_bytes is None else bytes(image_bytes)
        card = self.to_json()
        texts = [(PNG_KEYWORDS[self.spec], card)]
        if self.spec == SPEC_V3 and backfill_v2:
            v2 = {**card, "spec": SPEC_V2, "spec_version": "2.0", "data": dict(card["data"])}
            notes = v2["data"].get("creator_notes", "")
            v2["data"]["creator_notes"] = f"{_V2_BACKFILL_NOTE}\n\n{notes}".rstrip()
            texts.append(("chara", v2))
        return png_with_cards(image, texts)

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
    keyword, payload = card_chunk(blob, src)
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
        if "data" not in obj and any(k in obj for k in V1_FIELDS):
            return _upgrade_v1(obj, src)
        raise CardError(
            src,
            "missing 'spec': expected 'chara_card_v2' or 'chara_card_v3' (or a flat V1 card "
            "with 'name', 'description', 'first_mes', ...)",
        )
    if spec not in SPEC_VERSIONS:
        raise CardError(src, f"unknown spec {spec!r}: expected 'chara_card_v2' or 'chara_card_v3'")
    version = obj.get("spec_version", SPEC_VERSIONS[spec])
    if not isinstance(version, str):
        raise CardError(
            src, f"'spec_version' must be a string like {SPEC_VERSIONS[spec]!r}, got {version!r}"
        )
    data = obj.get("data")
    if not isinstance(data, dict):
        raise CardError(src, f"'data' must be an object, got {_kind(data)}")
    model = CardDataV3 if spec == SPEC_V3 else CardDataV2
    return CharacterCard(
        spec=spec, spec_version=version, data=_validate(model, data, src), raw=obj, source=src
    )


def _upgrade_v1(obj: dict[str, Any], src: str) -> CharacterCard:
    for key in V1_FIELDS:
        if key in obj and not isinstance(obj[key], str):
            raise CardError(src, f"{key}: must be a string in a V1 card, got {_kind(obj[key])}")
    notes = obj.get("creatorcomment")  # SillyTavern's V1 name for creator notes
    tags = obj.get("tags")
    data: dict[str, Any] = {key: obj.get(key, "") for key in V1_FIELDS}
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
