"""The theatre stage: actions, witnesses, hidden information, turns, state round-trip."""

from __future__ import annotations

import json
import textwrap

import pytest

from dramaturg.errors import DramaturgError
from dramaturg.worlds import Event, WorldNotResetError, check_world, make_world
from dramaturg.worlds.theatre import (
    ActionParseError,
    Give,
    Move,
    Open,
    Say,
    StageFileError,
    Take,
    TheatreWorld,
    load_stage,
    parse_action,
)


@pytest.fixture
def world():
    with make_world("theatre/elsinore") as w:
        w.reset(seed=0)
        yield w


def test_check_world_passes():
    with make_world("theatre/elsinore") as w:
        check_world(w, steps=10)


def test_gold_plan_wins(world):
    _, info = world.reset(seed=0)
    reward = 0.0
    for action in info["gold_plan"]:
        obs, r, terminated, _truncated, info = world.step(action)
        assert info["error"] is None, (action, obs)
        reward += r
    assert terminated and info["won"] and reward == 1.0 and info["score"] == 1.0


def test_not_following_the_plan_does_not_win(world):
    for action in ["wait", "wait", "wait", "wait"]:
        *_, terminated, _, info = world.step(action)
    assert not terminated and not info["won"]


def test_step_before_reset_is_a_developer_error():
    w = TheatreWorld("elsinore")
    with pytest.raises(WorldNotResetError, match="reset"):
        w.step("look")
    assert issubclass(WorldNotResetError, DramaturgError)


def test_say_is_heard_by_present_and_listening_characters_only(world):
    _, _, _, _, info = world.step('say Claudius "Something is rotten."')
    (ev,) = info["events"]
    assert ev.kind == "say" and ev.actor == "hamlet" and ev.place == "hall"
    # Claudius is present; Horatio (in the chapel) listens to Hamlet; Ophelia is in the garden.
    assert ev.witnesses == frozenset({"hamlet", "claudius", "horatio"})
    assert "ophelia" not in info["observations"]
    assert "Something is rotten." in info["observations"]["claudius"]


def test_aside_and_whisper_reach_only_their_audience(world):
    _, _, _, _, info = world.step('aside "I must be cruel only to be kind."')
    assert info["events"][0].witnesses == frozenset({"hamlet"})
    world.step("wait")  # ophelia
    _, _, _, _, info = world.step('whisper hamlet "Be silent."')  # claudius
    assert info["events"][0].witnesses == frozenset({"claudius", "hamlet"})


def test_letter_text_reaches_only_its_reader(world):
    obs, _, _, _, info = world.step("read letter")
    assert "celestial" in obs
    public, secret = info["events"]
    assert public.kind == "read" and "celestial" not in public.text
    assert "claudius" in public.witnesses
    assert secret.kind == "read_text" and "celestial" in secret.text
    assert secret.witnesses == frozenset({"hamlet"})
    assert "celestial" not in info["observations"]["claudius"]


def test_secret_affordance_is_unseen_and_hidden_state_not_shown(world):
    world.step("wait")
    world.step("wait")
    _, _, _, _, info = world.step("poison cup")  # claudius
    (ev,) = info["events"]
    assert ev.witnesses == frozenset({"claudius"}) and ev.data["sets"] == {"_poisoned": True}
    obs, *_ = world.step("examine cup")  # hamlet looks at it
    assert "poison" not in obs.lower()
    world.step("wait")
    obs, _, _, _, info = world.step("poison cup")  # claudius again: already poisoned
    assert info["error"] and "not poisoned=False" in obs


def test_a_hidden_state_changed_out_of_sight_is_not_told_by_commands_or_refusals(world):
    world.step("wait")  # hamlet
    world.step("wait")  # ophelia
    world.step("poison cup")  # claudius, unseen
    assert "poison cup" in world.admissible_actions("hamlet")  # he has not seen it
    assert "poison cup" not in world.admissible_actions("claudius")  # he did it
    obs, _, _, _, info = world.step("poison cup")  # hamlet: allowed, nothing revealed
    assert info["error"] is None and "pours a vial" in obs
    assert world.prop_states["cup"]["_poisoned"] is True
    assert "poison cup" not in world.admissible_actions("hamlet")  # now he believes it is
    assert world._known_state("ophelia", "cup", "_poisoned") is False


def test_move_needs_the_door_open_and_events_cover_both_rooms(world):
    obs, _, _, _, info = world.step("move north")
    assert "closed" in obs and info["error"] and info["turn"] == "hamlet"
    world.step("open door")
    world.step("wait")
    world.step("wait")
    obs, _, _, _, info = world.step("move north")
    leave, arrive = info["events"]
    assert (
        leave.place == "hall" and "claudius" in leave.witnesses and "ophelia" not in leave.witnesses
    )
    assert (
        arrive.place == "garden"
        and "ophelia" in arrive.witnesses
        and "claudius" not in arrive.witnesses
    )
    assert "Garden" in obs


def test_turns_are_enforced_and_illegal_actions_keep_the_turn(world):
    obs, _, _, _, info = world.step("ophelia: wait")
    assert "Hamlet's turn" in obs and info["error"]
    assert info["turn"] == "hamlet"
    _, _, _, _, info = world.step("hamlet: wait")
    assert info["turn"] == "ophelia" and info["error"] is None


@pytest.mark.parametrize(
    ("action", "reason"),
    [
        ("take door", "cannot be taken"),
        ("give cup to claudius", "do not have"),
        ("give letter to ophelia", "not here"),
        ("read cup", "nothing to read"),
        ("take sword", "no 'sword'"),
        ("dance wildly", "don't know how to dance"),
        ("", "empty command"),
        ('say "', "say what"),
        ("whisper", "whisper to whom"),
        ("move up", "cannot go"),
        ("close door", "already closed"),
        ('say yorick "alas"', None),  # unknown name: taken as part of the line, spoken to all
        ('say "<line>"', "write the words to say in place of <line>"),  # a template, as listed
        ('whisper claudius "<line>"', "write the words to whisper in place of <line>"),
        ("aside <line>", "write the words to say aside in place of <line>"),
        (12345, "text command"),
        (None, "text command"),
    ],
)
def test_illegal_actions_return_a_reason(world, action, reason):
    obs, reward, terminated, truncated, info = world.step(action)
    assert isinstance(obs, str) and not terminated and not truncated and reward == 0.0
    if reason is None:
        assert info["error"] is None
    else:
        assert reason in obs and info["error"] == obs


def test_every_speech_template_is_refused_as_listed_and_played_once_filled(world):
    _, info = world.reset(seed=0)
    templates = [a for a in info["admissible_actions"] if "<line>" in a]
    assert len(templates) >= 4  # say, aside, and a say and a whisper to whoever is present
    for template in templates:
        obs, _, _, _, info = world.step(template)
        assert info["error"] == obs and "in place of <line>" in obs and not info["events"], template
        assert info["turn"] == "hamlet"  # refused: the turn stays
    _, _, _, _, info = world.step(templates[0].replace("<line>", "Who's there?"))
    assert info["error"] is None and "Who's there?" in info["events"][0].text


def test_typed_actions_and_text_commands_agree():
    texts = ["open door", 'say claudius "Look."', "take cup", "move north"]
    typed = [
        Open(prop="door"),
        Say(to="claudius", text="Look."),
        Take(prop="cup"),
        Move(to="north"),
    ]
    results = []
    for actions in (texts, typed):
        with make_world("theatre/elsinore") as w:
            w.reset(seed=1)
            results.append(
                [(o, [e.to_dict() for e in i["events"]]) for o, *_, i in map(w.step, actions)]
            )
    assert results[0] == results[1]


def test_parse_grammar():
    speakers = {"ophelia", "hamlet", "lady macbeth"}
    assert parse_action('say Ophelia "hello"', speakers=speakers) == Say(to="Ophelia", text="hello")
    assert parse_action('say to all "hi"', speakers=speakers) == Say(text="hi")
    assert parse_action("say lady macbeth out, spot", speakers=speakers) == Say(
        to="lady macbeth", text="out, spot"
    )
    assert parse_action("hamlet: give letter to ophelia") == Give(
        actor="hamlet", prop="letter", to="ophelia"
    )
    assert parse_action('aside "alas"').mode == "aside"
    with pytest.raises(ActionParseError):
        parse_action("   ")


def test_state_round_trips_losslessly(world):
    for a in ["open door", "wait", "poison cup"]:
        world.step(a)
    state = world.get_state()
    assert json.loads(json.dumps(state)) == state  # JSON-ready
    rest = ["move north", "wait", "wait", "give letter to ophelia"]
    after = [world.step(a) for a in rest]
    fresh = TheatreWorld("elsinore")
    fresh.set_state(state)
    assert fresh.get_state() == state
    replay = [fresh.step(a) for a in rest]
    assert [
        (o, r, t, tr, [e.to_dict() for e in i["events"]], i["turn"]) for o, r, t, tr, i in after
    ] == [(o, r, t, tr, [e.to_dict() for e in i["events"]], i["turn"]) for o, r, t, tr, i in replay]
    assert fresh.get_state() == world.get_state()
    assert replay[-1][4]["won"]


def test_event_to_dict_round_trip(world):
    *_, info = world.step('say "To be."')
    ev = info["events"][0]
    assert Event.from_dict(json.loads(json.dumps(ev.to_dict()))) == ev


STAGE = """
title: Tiny
locations:
  room: {name: Room}
characters:
  ann: {name: Ann, location: room}
"""


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ("  bob: {name: Bob, location: attic}\n", "characters.bob.location"),
        ("  bob: {name: Bob, location: room, mood: sad}\n", "characters.bob.mood"),
        ("  bob: {location: room}\n", "characters.bob.name"),
    ],
)
def test_malformed_stage_file_names_the_bad_field(tmp_path, patch, field):
    path = tmp_path / "bad.yaml"
    path.write_text(STAGE + patch)
    with pytest.raises(StageFileError) as exc:
        load_stage(path)
    assert field in str(exc.value) and str(path) in str(exc.value)


def test_malformed_stage_file_other_errors(tmp_path):
    with pytest.raises(StageFileError, match=r"props\.cup"):
        load_stage(STAGE + "props:\n  cup: {name: cup}\n")  # neither location nor holder
    with pytest.raises(StageFileError, match=r"locations\.room\.exits\.north\.to"):
        load_stage(
            textwrap.dedent(STAGE).replace("{name: Room}", "{name: Room, exits: {north: moon}}")
        )
    with pytest.raises(StageFileError, match="not valid YAML"):
        load_stage("title: [unclosed\nlocations: {}\n")
    with pytest.raises(StageFileError, match="bundled stages"):
        load_stage("no_such_stage")


def test_free_turns_accept_any_character():
    stage = load_stage("theatre" and STAGE + "  bob: {name: Bob, location: room}\nturns: free\n")
    with TheatreWorld(stage) as w:
        w.reset()
        _, _, _, _, info = w.step('bob: say "first"')
        assert info["error"] is None and info["events"][0].actor == "bob"
        _, _, _, _, info = w.step('bob: say "again"')
        assert info["error"] is None


def test_stages_loaded_twice_share_nothing(world):
    # Parsed stage files are cached; every load must still be its own copy.
    world.step("open door")
    again = make_world("theatre/elsinore")
    assert again.stage == load_stage("elsinore") and again.stage is not world.stage
    world.stage.props["cup"].states["poisoned"] = "changed"
    assert load_stage("elsinore").props["cup"].states != world.stage.props["cup"].states
    again.close()
