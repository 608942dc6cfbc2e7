"""Character cards: V1/V2/V3 JSON and PNG import, round trips, personas, lore, broken cards.

PNG fixtures are built two ways: with the module's own writer
(:meth:`CharacterCard.save_png`) and by hand below (a literal 1x1 PNG with
text chunks spliced in by this file's own ``_chunk``), so the reader is
checked against bytes it did not produce.
"""

from __future__ import annotations

import base64
import copy
import json
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest

from dramaturg.drama.cards import (
    MAX_CARD_BYTES,
    CardDataV2,
    CardDataV3,
    CardError,
    CharacterCard,
    Lore,
    LorebookEntryV3,
    Persona,
    character_id,
    load_card,
)
from dramaturg.errors import ConfigError, DramaturgError

SECRET = "CREATOR-NOTE-MARKER-7f3a9c"

# A valid 1x1 RGBA PNG, split so text chunks can go before IEND.
PNG_HEAD = bytes.fromhex(
    "89504e470d0a1a0a"
    "0000000d49484452000000010000000108060000001f15c489"
    "0000000d4944415478da636460f85f0f0002870180eb47ba92"
)
PNG_IEND = bytes.fromhex("0000000049454e44ae426082")


def _chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body))


def _b64(card: dict[str, Any]) -> bytes:
    return base64.b64encode(json.dumps(card).encode("utf-8"))


def _text(keyword: str, payload: bytes) -> bytes:
    return _chunk(b"tEXt", keyword.encode("latin-1") + b"\0" + payload)


def _png(*chunks: bytes) -> bytes:
    return PNG_HEAD + b"".join(chunks) + PNG_IEND


def _chunks(blob: bytes) -> list[tuple[bytes, bytes]]:
    """This test's own PNG splitter (checks CRCs) for inspecting what the writer wrote."""
    assert blob[:8] == b"\x89PNG\r\n\x1a\n"
    pos, out = 8, []
    while pos < len(blob):
        (n,) = struct.unpack_from(">I", blob, pos)
        ctype, body = blob[pos + 4 : pos + 8], blob[pos + 8 : pos + 8 + n]
        assert struct.unpack_from(">I", blob, pos + 8 + n)[0] == zlib.crc32(ctype + body)
        out.append((ctype, body))
        pos += 12 + n
    return out


def _v2(**data: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "Ophelia",
        "description": "Daughter of Polonius. {{char}} loves {{user}}.",
        "personality": "gentle, torn",
        "scenario": "Elsinore, a cold night.",
        "first_mes": "My lord, how does your honour?",
        "mes_example": "<START>\n{{user}}: Are you honest?\n{{char}}: My lord?",
        "creator_notes": f"Tested on small models. {SECRET}",
        "system_prompt": "",
        "post_history_instructions": "Stay in verse.",
        "alternate_greetings": ["There's rosemary, that's for remembrance."],
        "tags": ["tragedy"],
        "creator": "ws",
        "character_version": "1.0",
        "extensions": {"depth_prompt": {"prompt": "x", "depth": 4}, "talkativeness": "0.5"},
    }
    base.update(data)
    return {"spec": "chara_card_v2", "spec_version": "2.0", "data": base}


def _v3(**data: Any) -> dict[str, Any]:
    card = _v2(**data)
    card["spec"], card["spec_version"] = "chara_card_v3", "3.0"
    card["data"].setdefault("group_only_greetings", ["Good night, ladies."])
    return card


def _book(v3: bool = False) -> dict[str, Any]:
    def entry(**kw: Any) -> dict[str, Any]:
        e = {"keys": [], "content": "", "extensions": {}, "enabled": True, "insertion_order": 0}
        if v3:
            e["use_regex"] = False
        e.update(kw)
        return e

    return {
        "name": "Elsinore",
        "scan_depth": 3,
        "extensions": {"acme/book": {"v": 1}},
        "entries": [
            entry(
                keys=["brook"],
                content="@@depth 2\nShe drowns in the brook.",
                insertion_order=20,
                priority=3,
                id=7,
                comment=f"editor note {SECRET}",
                secondary_keys=["willow"],
                selective=True,
                position="after_char",
            ),
            entry(keys=["ghost"], content="Disabled entry.", enabled=False, insertion_order=1),
            entry(
                keys=["castle"],
                content="Elsinore is a castle in Denmark.",
                insertion_order=5,
                constant=True,
                extensions={"acme/weight": 0.5},
            ),
            entry(keys=["empty"], content="   ", insertion_order=2),
        ],
    }


# --- loading each format ------------------------------------------------------------


def test_v2_json_file(tmp_path: Path) -> None:
    path = tmp_path / "ophelia.json"
    path.write_text(json.dumps(_v2()), encoding="utf-8")
    card = load_card(path)
    assert card.spec == "chara_card_v2" and card.spec_version == "2.0"
    assert type(card.data) is CardDataV2
    assert card.name == "Ophelia"
    assert card.data.alternate_greetings == ["There's rosemary, that's for remembrance."]
    assert card.data.extensions["depth_prompt"] == {"prompt": "x", "depth": 4}
    assert card.source == str(path) and not card.from_v1


def test_v3_json_bytes_with_v3_fields() -> None:
    raw = _v3(
        nickname="Ophy",
        source=["https://example.org/ophelia"],
        creation_date=1700000000,
        modification_date=1700000500.5,
        assets=[{"type": "icon", "uri": "ccdefault:", "name": "main", "ext": "png"}],
        creator_notes_multilingual={"en": f"notes {SECRET}", "fr": f"notes {SECRET}"},
        character_book=_book(v3=True),
    )
    raw["data"]["character_book"]["entries"][0]["use_regex"] = True
    card = load_card(json.dumps(raw).encode())
    assert card.spec == "chara_card_v3" and type(card.data) is CardDataV3
    assert card.data.nickname == "Ophy"
    assert card.data.group_only_greetings == ["Good night, ladies."]
    assert card.data.assets is not None and card.data.assets[0].uri == "ccdefault:"
    assert card.data.modification_date == 1700000500.5
    book = card.data.character_book
    assert book is not None and isinstance(book.entries[0], LorebookEntryV3)
    assert book.entries[0].use_regex is True
    assert card.to_persona().name == "Ophy"  # V3: the nickname replaces {{char}}


def test_v2_png_written_by_own_writer(tmp_path: Path) -> None:
    card = load_card(_v2())
    path = card.save_png(tmp_path / "ophelia.png")
    chunks = _chunks(path.read_bytes())
    assert chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND"
    assert [b.split(b"\0")[0] for t, b in chunks if t == b"tEXt"] == [b"chara"]
    again = load_card(path)
    assert again.spec == "chara_card_v2" and again.to_json() == _v2()


def test_v3_png_written_by_own_writer_backfills_v2(tmp_path: Path) -> None:
    card = load_card(_v3())
    blob = card.save_png(tmp_path / "o.png").read_bytes()
    texts = {b.split(b"\0")[0]: b.split(b"\0", 1)[1] for t, b in _chunks(blob) if t == b"tEXt"}
    assert set(texts) == {b"ccv3", b"chara"}
    backfill = json.loads(base64.b64decode(texts[b"chara"]))
    assert backfill["spec"] == "chara_card_v2"
    assert backfill["data"]["creator_notes"].startswith("This character card is Character Card V3")
    assert load_card(blob).to_json() == _v3()  # ccv3 is read, the backfill ignored
    only_v3 = card.to_png_bytes(backfill_v2=False)
    assert [b.split(b"\0")[0] for t, b in _chunks(only_v3) if t == b"tEXt"] == [b"ccv3"]


def test_hand_built_png_with_chara_text_chunk(tmp_path: Path) -> None:
    blob = _png(_text("Software", b"hand"), _text("chara", _b64(_v2())))
    path = tmp_path / "hand.png"
    path.write_bytes(blob)
    card = load_card(path)
    assert card.spec == "chara_card_v2" and card.data.first_mes == "My lord, how does your honour?"


def test_hand_built_png_with_both_chunks_prefers_ccv3() -> None:
    v2 = _v2(name="Old Ophelia")
    v3 = _v3(name="New Ophelia")
    # chara comes first in the file, so only the preference can pick ccv3.
    card = load_card(_png(_text("chara", _b64(v2)), _text("ccv3", _b64(v3))))
    assert card.spec == "chara_card_v3" and card.name == "New Ophelia"


@pytest.mark.parametrize("kind", ["iTXt", "iTXt-compressed", "zTXt"])
def test_hand_built_png_with_itxt_and_ztxt(kind: str) -> None:
    payload = _b64(_v3(name="Compressed"))
    if kind == "zTXt":
        chunk = _chunk(b"zTXt", b"ccv3\0\0" + zlib.compress(payload))
    elif kind == "iTXt":
        chunk = _chunk(b"iTXt", b"ccv3\0\0\0en\0ccv3\0" + payload)
    else:
        chunk = _chunk(b"iTXt", b"ccv3\0\1\0\0\0" + zlib.compress(payload))
    card = load_card(_png(chunk))
    assert card.spec == "chara_card_v3" and card.name == "Compressed"


def test_v1_flat_card_is_upgraded_to_v2() -> None:
    v1 = {
        "name": "Yorick",
        "description": "A fellow of infinite jest.",
        "personality": "merry",
        "scenario": "The graveyard.",
        "first_mes": "Alas!",
        "mes_example": "",
        "creatorcomment": f"old notes {SECRET}",
        "avatar": "none",
        "talkativeness": "0.5",
    }
    card = load_card(copy.deepcopy(v1))
    assert card.spec == "chara_card_v2" and card.from_v1
    assert card.data.name == "Yorick" and card.data.first_mes == "Alas!"
    assert card.data.creator_notes == f"old notes {SECRET}"
    assert card.raw == v1
    out = card.to_json()
    assert out["spec"] == "chara_card_v2" and out["data"]["scenario"] == "The graveyard."
    assert out["talkativeness"] == "0.5"  # unknown V1 keys stay at the top level
    assert load_card(out).to_json() == out
    assert SECRET not in card.prompt_text()


# --- round trips ------------------------------------------------------------------


def _with_unknowns(card: dict[str, Any]) -> dict[str, Any]:
    card = copy.deepcopy(card)
    card["create_date"] = "2024-5-1"  # unknown top-level key (SillyTavern writes these)
    card["name"] = card["data"]["name"]  # V1 mirror at the root
    data = card["data"]
    data["x_future_field"] = {"nested": [1, 2.0, None, True, "é"]}
    data["extensions"]["acme/voice"] = {"pitch": 1.5, "ids": [3, 4], "on": False}
    data["character_book"] = _book(v3=card["spec"] == "chara_card_v3")
    data["character_book"]["entries"][0]["x_entry_field"] = {"keep": "me"}
    data["character_book"]["x_book_field"] = 42
    data["character_book"]["entries"][1]["insertion_order"] = 1.0  # a float stays a float
    return card


@pytest.mark.parametrize("make", [_v2, _v3], ids=["v2", "v3"])
def test_json_round_trip_preserves_unknown_fields_exactly(make: Any, tmp_path: Path) -> None:
    original = _with_unknowns(make())
    card = load_card(copy.deepcopy(original))
    assert card.data.model_extra == {"x_future_field": original["data"]["x_future_field"]}
    assert card.to_json() == original
    path = card.save_json(tmp_path / "card.json")
    text = path.read_text(encoding="utf-8")
    # Same keys in the same order, same number types: the very same JSON text.
    assert text == json.dumps(original, ensure_ascii=False, indent=2)
    assert load_card(path).to_json() == original


@pytest.mark.parametrize("make", [_v2, _v3], ids=["v2", "v3"])
def test_png_round_trip_keeps_image_chunks_and_replaces_old_card(make: Any, tmp_path: Path) -> None:
    original = _with_unknowns(make())
    stale = _text("ccv3", _b64(_v3(name="Stale")))
    image = _png(_text("Software", b"painter"), stale)
    path = load_card(original).save_png(tmp_path / "card.png", image_bytes=image)
    chunks = _chunks(path.read_bytes())
    assert (b"tEXt", b"Software\0painter") in chunks
    assert (b"tEXt", stale[8:-4]) not in chunks  # the old card is gone, or it would win
    again = load_card(path)
    assert json.dumps(again.to_json()) == json.dumps(original)


def test_written_card_data_always_has_the_required_fields() -> None:
    card = CharacterCard(spec="chara_card_v3", spec_version="3.0", data=CardDataV3(name="Osric"))
    data = card.to_json()["data"]
    assert data["group_only_greetings"] == [] and data["extensions"] == {}
    assert data["creator_notes"] == "" and "nickname" not in data
    with pytest.raises(CardError, match="needs data of type CardDataV3"):
        CharacterCard(spec="chara_card_v3", spec_version="3.0", data=CardDataV2(name="Osric"))


# --- persona and lore ---------------------------------------------------------------


def test_persona_fills_macros_and_drops_original() -> None:
    card = load_card(_v2(system_prompt="{{original}}\nSpeak as {{char}}."))
    persona = card.to_persona(user="Hamlet")
    assert isinstance(persona, Persona)
    assert persona.description == "Daughter of Polonius. Ophelia loves Hamlet."
    assert persona.system_prompt == "Speak as Ophelia."
    assert persona.example_dialogue.endswith("Ophelia: My lord?")
    assert card.to_persona().description.endswith("loves {{user}}.")  # no user: left for later
    text = card.prompt_text(user="Hamlet")
    assert text.startswith("Speak as Ophelia.\n\nCharacter: Ophelia")
    assert "Scenario: Elsinore, a cold night." in text


@pytest.mark.parametrize("make", [_v2, _v3], ids=["v2", "v3"])
def test_creator_notes_never_reach_persona_or_prompt(make: Any) -> None:
    raw = make(character_book=_book(v3=make is _v3))
    if make is _v3:
        raw["data"]["creator_notes_multilingual"] = {"en": SECRET, "de": SECRET}
    card = load_card(raw)
    assert SECRET in card.data.creator_notes  # kept for the human who imports the card
    persona = card.to_persona(user="Hamlet")
    assert SECRET not in persona.model_dump_json()
    assert SECRET not in card.prompt_text() and SECRET not in card.prompt_text(user="Hamlet")
    assert SECRET not in repr(card.memories())  # lorebook `comment`s are editor notes too
    assert SECRET not in json.dumps([m.data for m in card.memories()])


def test_lorebook_becomes_memories_and_disabled_entries_are_skipped() -> None:
    card = load_card(_v2(character_book=_book()))
    lore = card.memories()
    assert [m.keys for m in lore] == [("castle",), ("brook",)]  # by insertion_order
    castle, brook = lore
    assert isinstance(castle, Lore) and castle.source == "lorebook" and castle.constant
    assert brook.content == "She drowns in the brook." and brook.decorators == ("@@depth 2",)
    assert brook.priority == 3 and brook.insertion_order == 20 and brook.selective
    assert brook.secondary_keys == ("willow",) and brook.id == "lore:Ophelia:7"
    assert all(m.enabled for m in lore)
    assert "Disabled entry." not in [m.content for m in lore]
    everything = card.memories(include_disabled=True)
    assert [m.content for m in everything if not m.enabled] == ["Disabled entry."]
    assert load_card(_v2()).memories() == []


def test_lorebook_memories_fill_macros_like_the_persona() -> None:
    book = {
        "entries": [
            {
                "keys": ["{{user}}", "vow"],
                "content": "{{char}} swore to <USER> by the brook.",
                "extensions": {},
                "enabled": True,
                "insertion_order": 0,
            }
        ],
        "extensions": {},
    }
    card = load_card(_v2(character_book=book))
    lore = card.memories(user="Hamlet")[0]
    assert lore.content == "Ophelia swore to Hamlet by the brook." and lore.keys == (
        "Hamlet",
        "vow",
    )
    # No user given: {{char}} is filled and {{user}} left for later, as to_persona does.
    assert card.memories()[0].content == "Ophelia swore to <USER> by the brook."
    assert load_card(_v3(nickname="Ophy", character_book=book)).memories(user="you")[0].content == (
        "Ophy swore to you by the brook."
    )


@pytest.mark.parametrize(
    ("name", "cid"),
    [
        ("Ophelia", "ophelia"),
        ("Zoë Ångström", "zoe_angstrom"),
        ("Ægir Þórsson", "aegir_thorsson"),
        ("Straße", "strasse"),
        ("Model Config", "c_model_config"),
        ("class", "c_class"),
        ("2B", "c_2b"),
    ],
)
def test_character_id_is_an_ascii_id_the_blueprint_accepts(name: str, cid: str) -> None:
    assert character_id(name) == cid


@pytest.mark.parametrize("name", ["李白", "Иван", "🎭"])
def test_a_name_with_no_latin_letters_gets_a_stable_hashed_id(name: str) -> None:
    import re

    cid = character_id(name)
    assert re.fullmatch(r"char_[0-9a-f]{6}", cid) and cid == character_id(f" {name} ")
    assert character_id("杜甫") != character_id("李白")


def test_lore_is_accepted_by_memory_event_from() -> None:
    from dramaturg.memory.records import event_from

    lore = load_card(_v2(character_book=_book())).memories()[0]
    event = event_from(lore, witnesses={"ophelia"})
    assert event.text == "Elsinore is a castle in Denmark."
    assert event.kind == "lore" and event.id == lore.id
    assert event.data["keys"] == ["castle"] and event.data["source"] == "lorebook"
    assert "Ophelia" in event.entities


# --- broken cards ---------------------------------------------------------------------


def _fails(card: Any, *needles: str, name: str | None = None) -> CardError:
    with pytest.raises(CardError) as info:
        load_card(card, name=name)
    for needle in needles:
        assert needle in str(info.value), str(info.value)
    return info.value


def test_card_error_is_a_config_error() -> None:
    err = _fails(b"{", "ophelia.json", "not valid JSON", name="ophelia.json")
    assert isinstance(err, ConfigError) and isinstance(err, DramaturgError)
    assert err.source == "ophelia.json" and "not valid JSON" in err.problem


def test_not_json_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"spec": "chara_card_v2", "data": {', encoding="utf-8")
    _fails(path, str(path), "is not valid JSON", "line 1")
    path.write_bytes(b"\xff\xfe{}")
    _fails(path, str(path), "not UTF-8")


@pytest.mark.parametrize(
    ("raw", "needles"),
    [
        ([1, 2], ["must be a JSON object, got an array"]),
        ({"spec": "chara_card_v2", "data": "Ophelia"}, ["'data' must be an object, got a string"]),
        (
            {"spec": "chara_card_v2", "spec_version": 2, "data": {}},
            ["'spec_version' must be a string"],
        ),
        (_v2(tags="tragedy"), ["data.tags: Input should be a valid list", "'tragedy'"]),
        (
            _v2(character_book={"entries": [{"keys": "brook", "content": "x"}]}),
            ["data.character_book.entries.0.keys: Input should be a valid list"],
        ),
        (
            _v3(character_book={"entries": [{"keys": [], "insertion_order": "5"}]}),
            ["data.character_book.entries.0.insertion_order: Input should be a number"],
        ),
        (_v3(assets=[{"uri": "ccdefault:"}]), ["data.assets.0.type: Field required"]),
        ({"name": ["not", "text"], "description": "x"}, ["name: must be a string in a V1 card"]),
    ],
    ids=["array", "data-str", "version-int", "tags", "entry-keys", "order-str", "asset", "v1"],
)
def test_wrong_shape_names_the_field(raw: Any, needles: list[str], tmp_path: Path) -> None:
    path = tmp_path / "shape.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    _fails(path, str(path), *needles)


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ({"spec": "chara_card_v9", "data": {"name": "x"}}, "unknown spec 'chara_card_v9'"),
        ({"data": {"name": "x"}}, "missing 'spec'"),
        ({"avatar": "none"}, "missing 'spec'"),
    ],
    ids=["unknown", "missing-with-data", "missing-empty"],
)
def test_wrong_or_missing_spec(raw: dict[str, Any], needle: str) -> None:
    _fails(raw, "<dict>", needle)


def test_png_with_bad_signature(tmp_path: Path) -> None:
    path = tmp_path / "fake.png"
    path.write_bytes(b"GIF89a" + _png(_text("chara", _b64(_v2())))[6:])
    _fails(path, str(path), "not a PNG file (bad signature")


def test_truncated_png(tmp_path: Path) -> None:
    blob = _png(_text("chara", _b64(_v2())))
    path = tmp_path / "cut.png"
    path.write_bytes(blob[: len(PNG_HEAD) + 40])  # inside the tEXt chunk
    _fails(path, str(path), "truncated PNG", "'tEXt'")
    path.write_bytes(blob[: -len(PNG_IEND)])  # every chunk whole, but no IEND
    _fails(path, str(path), "truncated PNG", "before IEND")


def test_png_with_bad_crc(tmp_path: Path) -> None:
    blob = bytearray(_png(_text("chara", _b64(_v2()))))
    blob[len(PNG_HEAD) + 20] ^= 0x01  # one bit of the card, CRC left as it was
    path = tmp_path / "crc.png"
    path.write_bytes(bytes(blob))
    _fails(path, str(path), "corrupt PNG", "'tEXt'", "bad CRC")


def test_png_without_card_chunk(tmp_path: Path) -> None:
    path = tmp_path / "plain.png"
    path.write_bytes(_png(_text("Software", b"painter")))
    _fails(path, str(path), "no 'chara' or 'ccv3' text chunk")


def test_png_with_bad_base64_or_bad_json(tmp_path: Path) -> None:
    path = tmp_path / "b64.png"
    path.write_bytes(_png(_text("ccv3", b"not*base64!")))
    _fails(path, str(path), "'ccv3' chunk is not valid base64")
    path.write_bytes(_png(_text("chara", base64.b64encode(b"{oops"))))
    _fails(path, str(path), "'chara' chunk is not valid JSON")


def test_file_over_20_mib_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "huge.png"
    with path.open("wb") as f:
        f.truncate(MAX_CARD_BYTES + 1)  # sparse: no 20 MiB written to disk
    _fails(path, str(path), "over the 20 MiB limit")
    _fails(b"{" + b" " * MAX_CARD_BYTES + b"}", "<bytes>", "over the 20 MiB limit")


def test_missing_file_and_bad_image_for_save(tmp_path: Path) -> None:
    _fails(tmp_path / "nowhere.json", "nowhere.json", "no such file")
    card = load_card(_v2())
    with pytest.raises(CardError, match=r"\(image_bytes\): not a PNG file"):
        card.save_png(tmp_path / "x.png", image_bytes=b"JFIF not a png")
    assert not (tmp_path / "x.png").exists()
