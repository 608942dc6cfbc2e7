import socket

import pytest

from dramaturg.testing import NetworkBlockedError, is_loopback


def test_network_is_blocked_for_remote_hosts():
    with pytest.raises(NetworkBlockedError):
        socket.create_connection(("203.0.113.7", 80), timeout=1)
    with pytest.raises(NetworkBlockedError):
        socket.getaddrinfo("example.com", 443)


def test_loopback_is_allowed():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=1):
            pass


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.8.9.1", "::1", "[::1]", "localhost", b"127.0.0.1"]
)
def test_is_loopback(host):
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["10.0.0.1", "8.8.8.8", "example.com", "", None])
def test_is_not_loopback(host):
    assert not is_loopback(host)


# --- SchemaModel --------------------------------------------------------------


async def test_schema_model_answers_the_drama_roles_with_valid_rotating_choices():
    from dramaturg.agents import ToolAgent
    from dramaturg.agents.schemas import CriticVerdict, Plan
    from dramaturg.drama.actor import Actor, ActorView
    from dramaturg.drama.director import Director, Reflection
    from dramaturg.models import user
    from dramaturg.testing import SchemaModel

    model = SchemaModel()
    director = Director(model=model)
    beats = [{"id": "b1", "text": "x", "status": "pending"}]
    picks: list[str] = []
    for _ in range(5):
        # The director leaves out the last actor: the offered cast changes every call.
        pick = await director.pick(
            scene="hall",
            cast=["hamlet", "ophelia", "claudius"],
            names={"hamlet": "Hamlet", "ophelia": "Ophelia", "claudius": "Claudius"},
            beats=beats,
            recent=[],
            last=picks[-1] if picks else None,
        )
        # Calls with other schemas in between do not disturb the rotation.
        view = ActorView(
            character="hamlet",
            name="Hamlet",
            persona="",
            scene="hall",
            beat=None,
            others=["ophelia"],
        )
        decision = await Actor(model=model).decide(view)
        picks.append(pick.actor)
    assert picks == ["hamlet", "ophelia", "claudius", "hamlet", "ophelia"]
    assert (
        decision.kind == "speak" and decision.line == f"line {model.calls}" and decision.to is None
    )
    assert decision.thought == f"thought {model.calls}"

    assert (
        await ToolAgent(model=model).command(
            goal="g", observation="o", admissible=["open door", "wait"]
        )
        == "open door"
    )
    assert (
        await model.structured([user("?")], Reflection) == Reflection()
    )  # defaults: nothing changes
    plan = await model.structured([user("?")], Plan)
    assert len(plan.subtasks) == 1 and plan.subtasks[0].id.startswith("id ")
    verdict = await model.structured([user("?")], CriticVerdict)
    assert verdict.score == 0 and verdict.route == "accept" and verdict.revised is None
    assert (await model.complete([user("Go on.")])).text == "All is quiet."


def test_schema_model_keeps_strings_within_their_limits():
    from pydantic import BaseModel, Field

    from dramaturg.testing import SchemaModel

    class Tight(BaseModel):
        short: str = Field(max_length=3)
        long: str = Field(min_length=12)
        n: int = Field(gt=4, le=9)

    out = SchemaModel().structured_sync([], Tight)
    assert (
        out.short == "sho" and len(out.long) == 12 and out.long.startswith("long 1") and out.n == 5
    )


# --- FuzzModel ----------------------------------------------------------------


def test_fuzz_model_is_deterministic_for_a_seed_and_counts_its_outputs():
    from dramaturg.agents.schemas import CriticVerdict
    from dramaturg.models import user
    from dramaturg.testing import FuzzModel

    def answers(seed: int) -> list[str]:
        model = FuzzModel(seed)
        texts = [
            model.complete_sync(
                [user("Hamlet takes the cup.")],
                json_schema=CriticVerdict.model_json_schema(),
                response_model=CriticVerdict,
            ).text
            for _ in range(60)
        ]
        texts += [model.complete_sync([user("Hamlet takes the cup.")]).text for _ in range(40)]
        assert model.calls == 100 == sum(model.drawn.values())
        assert set(model.drawn) == set(FuzzModel.KINDS)  # every kind comes up in a hundred answers
        return texts

    assert answers(3) == answers(3)
    assert answers(3) != answers(4)


def test_fuzz_model_valid_answers_fit_the_schema_and_broken_ones_do_not():
    from dramaturg.agents.schemas import CriticVerdict
    from dramaturg.drama.actor import ActorDecision
    from dramaturg.errors import ConfigError, ModelOutputError
    from dramaturg.models import user
    from dramaturg.testing import FuzzModel

    valid = FuzzModel(0, kinds=("valid",))
    for schema in (CriticVerdict, ActorDecision):
        assert all(
            isinstance(valid.structured_sync([user("Who acts?")], schema), schema)
            for _ in range(30)
        )
    broken = FuzzModel(0, kinds=("truncated", "empty", "nested"))
    for _ in range(30):
        with pytest.raises(ModelOutputError):
            broken.structured_sync([user("Who acts?")], CriticVerdict)
    with pytest.raises(ConfigError, match="not among"):
        FuzzModel(kinds=("valid", "gibberish"))


def test_fuzz_model_docstring_example_runs():
    import doctest

    import dramaturg._fuzz

    result = doctest.testmod(dramaturg._fuzz)
    assert result.attempted > 0 and result.failed == 0
