"""Drama sessions on disk: create, open, tokens, refused input, damaged files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dramaturg.cli import app
from dramaturg.drama.blueprint import Blueprint
from dramaturg.drama.cards import CardError, load_card
from dramaturg.drama.graph import MAX_PLAYER_INPUT
from dramaturg.drama.session import DramaSession
from dramaturg.errors import ConfigError
from dramaturg.testing import SchemaModel
from dramaturg.worlds.theatre import load_stage


def elsinore() -> Blueprint:
    return Blueprint.from_stage(load_stage("elsinore"), topic="elsinore")


@pytest.fixture
def home(tmp_path) -> Path:
    return tmp_path / "home"


async def play(session: DramaSession, answer=None) -> list[dict]:
    return [e async for e in session.advance(answer)]


def log_of(session: DramaSession) -> list[dict]:
    path = session.folder / "transcript.jsonl"
    return (
        [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        if path.exists()
        else []
    )


async def started(home: Path) -> DramaSession:
    """A session as Hamlet, played up to Hamlet's first turn."""
    session, _ = DramaSession.create(elsinore(), player="hamlet", home=home)
    session.use_model(SchemaModel())
    entries = await play(session)
    assert entries[-1]["kind"] == "waiting" and entries[-1]["prompt"]["character"] == "hamlet"
    return session


def test_create_open_and_list(home):
    a, _ = DramaSession.create(
        elsinore(), player="hamlet", mode="ensemble", max_turns=30, home=home
    )
    b, _ = DramaSession.create(elsinore(), player=None, home=home, session_id="watch-me")
    assert (a.folder / "blueprint.yaml").is_file() and a.folder.parent == home / "drama"
    opened = DramaSession.open(a.meta.id, home=home)
    assert opened.meta == a.meta and opened.blueprint == a.blueprint
    assert opened.meta.mode == "ensemble" and opened.meta.max_turns == 30
    assert sorted(m.id for m in DramaSession.list(home)) == sorted([a.meta.id, "watch-me"])
    assert DramaSession.open("watch-me", home=home).meta.player is None

    with pytest.raises(ConfigError, match="exists already"):
        DramaSession.create(elsinore(), home=home, session_id="watch-me")
    with pytest.raises(ConfigError, match="no character 'yorick'"):
        DramaSession.create(elsinore(), player="yorick", home=home)
    for bad in ("nope-nope", "../" + b.meta.id, ""):
        with pytest.raises(ConfigError, match="no session"):
            DramaSession.open(bad, home=home)
    assert len(DramaSession.list(home)) == 2  # the failed creates left nothing behind


def test_tokens(home):
    a, token_a = DramaSession.create(elsinore(), player="hamlet", home=home)
    b, token_b = DramaSession.create(elsinore(), player="hamlet", home=home)
    assert a.check_token(token_a) and b.check_token(token_b)
    assert not a.check_token(token_b) and not b.check_token(token_a)  # another session's token
    for wrong in (None, "", token_a[:-1], token_a + "x", token_a.upper()):
        assert not a.check_token(wrong)
    # Only the hash is kept on disk.
    stored = (a.folder / "session.json").read_text()
    assert token_a not in stored and a.meta.token_sha256 in stored
    assert DramaSession.open(a.meta.id, home=home).check_token(token_a)


async def test_advance_stops_at_the_players_turn_and_logs_every_entry(home):
    session = await started(home)
    state = await session.state()
    assert state["started"] and not state["ended"]
    assert state["waiting"]["character"] == "hamlet" and state["waiting"]["commands"]
    assert log_of(session) == state["values"]["transcript"]
    # Asking again with no input while the player is awaited changes nothing.
    assert await play(session) == []
    assert log_of(session) == (await session.state())["values"]["transcript"]


REFUSED = {
    "empty": "   ",
    "oversized": "x" * (MAX_PLAYER_INPUT + 1),
    "binary": b"\x89PNG\r\n\x1a\n\x00\x00",
    "control character": 'say "hello\x07there"',
}


@pytest.mark.parametrize("answer", REFUSED.values(), ids=REFUSED.keys())
async def test_a_refused_input_yields_a_notice_and_changes_nothing(home, answer):
    session = await started(home)
    log_before = (session.folder / "transcript.jsonl").read_bytes()
    before = await session.state()

    entries = await play(session, answer)

    assert [e["kind"] for e in entries] == ["notice", "waiting"]
    text = entries[0]["text"]
    assert entries[1]["prompt"]["notice"] == text and entries[1]["prompt"]["character"] == "hamlet"
    after = await session.state()
    assert (session.folder / "transcript.jsonl").read_bytes() == log_before
    # Only the notice for the player is new; the play itself (transcript, world, steps) is untouched.
    assert after["values"].pop("notice") == text
    before["values"].pop("notice")
    assert after["values"] == before["values"]

    # The turn is still the player's: a good input plays now.
    played = await play(session, '"Who is there?"')
    assert played[0]["by"] == "player" and "Who is there?" in played[0]["public"]
    assert (await session.state())["values"].get("notice") is None


async def test_a_good_input_plays_and_the_agents_answer(home):
    session = await started(home)
    before = await session.state()
    entries = await play(session, '"Who is there?"')
    turns = [e for e in entries if e["kind"] == "turn"]
    assert turns[0]["actor"] == "hamlet" and turns[0]["by"] == "player"
    assert turns[0]["public"] == 'Hamlet says: "Who is there?"'
    assert {t["by"] for t in turns[1:]} == {"agent"} and len(turns) > 1
    assert entries[-1]["kind"] == "waiting"
    after = await session.state()
    new = after["values"]["transcript"][len(before["values"]["transcript"]) :]
    assert new == [e for e in entries if e["kind"] != "waiting"]
    assert log_of(session) == after["values"]["transcript"]
    assert after["values"]["step"] == before["values"]["step"] + len(turns)


@pytest.mark.parametrize(
    "content", ["{not json", "[1, 2]", "null", '{"id": "x", "surprise": 1}', ""]
)
def test_a_damaged_session_file_is_a_clear_config_error(home, content):
    session, _ = DramaSession.create(elsinore(), player="hamlet", home=home)
    meta = session.folder / "session.json"
    meta.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match="damaged") as caught:
        DramaSession.open(session.meta.id, home=home)
    assert str(meta) in str(caught.value)
    assert DramaSession.list(home) == []  # listing skips it instead of failing


def test_a_broken_card_is_a_card_error():
    with pytest.raises(CardError, match=r"broken\.png"):
        load_card(b"\x89PNG\r\n\x1a\n garbage, not chunks", name="broken.png")
    with pytest.raises(CardError, match=r"broken\.json"):
        load_card(b"\xff\xfe{{{", name="broken.json")


def test_drama_new_with_a_broken_card_fails_cleanly_and_makes_no_session(tmp_path, _isolated_home):
    card = tmp_path / "broken.png"
    card.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    result = CliRunner().invoke(
        app, ["drama", "new", "--stage", "elsinore", "--player", "hamlet", "--card", str(card)]
    )
    assert result.exit_code == 1, result.output
    out = " ".join(result.output.split())  # rich wraps long lines
    assert "cannot make the play" in out and "character card" in out and "broken.png" in out
    assert "Traceback" not in result.output
    drama = _isolated_home / "drama"
    assert not drama.exists() or not any(drama.iterdir())
    assert DramaSession.list() == []


async def test_the_log_is_mended_from_the_checkpoint(home):
    # A kill between logging an entry and checkpointing it leaves a line the graph plays again,
    # or half a line; the next advance rewrites the log from the checkpoint.
    session = await started(home)
    log = session.folder / "transcript.jsonl"
    ghost = json.dumps({"kind": "turn", "actor": "hamlet", "by": "player", "step": 1})
    with log.open("a", encoding="utf-8") as f:
        f.write(ghost + "\n" + ghost[:20])
    await play(session, '"Who is there?"')
    assert log_of(session) == (await session.state())["values"]["transcript"]


def test_the_player_tool_agent_uses_the_adapter_registered_for_the_stage(home, tmp_path):
    from dramaturg.models._weights import default_weights
    from dramaturg.models.adapters import AdapterRegistry

    from ..training._tiny import write_lora_adapter

    session, _ = DramaSession.create(elsinore(), player="hamlet", home=home)
    assert session._tool_agent().model is session._chat()  # nothing registered: one model plays all
    adapter = write_lora_adapter(
        tmp_path / "stage-words.gguf", hidden=640, heads=4, head_dim=256, layers=18
    )
    AdapterRegistry().add("theatre/", adapter, base=default_weights())
    fresh = DramaSession.open(session.meta.id, home=home)
    assert "+stage-words" in fresh._tool_agent().model.name and "+" not in fresh._chat().name
    fresh.use_model(SchemaModel())  # a model handed in plays every part, the tool agent too
    assert fresh._tool_agent().model is fresh._chat()
