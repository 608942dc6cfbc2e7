"""The drama blueprint: the offline design pipeline (scripted models), YAML files, theatre stages."""

from __future__ import annotations

import pytest
import yaml

from dramaturg.drama.blueprint import Blueprint, BlueprintError
from dramaturg.drama.design import design_blueprint
from dramaturg.errors import ConfigError, ScriptError
from dramaturg.models import Reply, ScriptedModel
from dramaturg.worlds import check_world
from dramaturg.worlds.theatre import TheatreWorld, load_stage

TOPIC = "a ghost demands revenge"


# ----------------------------------------------------------------- scripted answers
def cast_part(*names: str, location: str = "hall") -> dict:
    names = names or ("Hamlet", "Ophelia")
    ids = [n.lower() for n in names]
    return {
        "title": "The Ghost",
        "premise": "A prince learns his uncle killed his father.",
        "cast": [
            {
                "id": cid,
                "name": name,
                "background": f"{name} of Denmark.",
                "goals": ["Learn the truth"],
                "emotion": "uneasy",
                "relationships": {o: "knows them" for o in ids if o != cid},
                "secrets": [
                    {"text": f"{name} saw the ghost.", "known_by": [o for o in ids if o != cid]}
                ],
                "location": location,
            }
            for cid, name in zip(ids, names, strict=True)
        ],
    }


def stage_part() -> dict:
    return {
        "places": [
            {
                "id": "hall",
                "name": "Great Hall",
                "description": "Torches.",
                "exits": {"north": "garden"},
            },
            {
                "id": "garden",
                "name": "Garden",
                "description": "Hedges.",
                "exits": {"south": "hall"},
            },
        ],
        "props": [
            {"id": "skull", "name": "skull", "description": "Yorick's.", "location": "garden"},
            {"id": "letter", "name": "letter", "description": "Sealed.", "holder": "hamlet"},
        ],
    }


def scenes_part(
    place: str = "hall", *, cast: tuple[str, ...] = ("hamlet", "ophelia"), tag: str = ""
) -> dict:
    return {
        "scenes": [
            {
                "id": "s1",
                "title": "Midnight",
                "place": place,
                "cast": list(cast),
                "beats": [f"The ghost appears{tag}.", f"Hamlet swears revenge{tag}."],
            },
            {
                "id": "s2",
                "title": "The Garden",
                "place": "garden",
                "cast": list(cast),
                "beats": [f"Ophelia returns the letter{tag}."],
            },
        ]
    }


def ok() -> dict:
    return {"ok": True, "issues": []}


def reject(*issues: str) -> dict:
    return {"ok": False, "issues": list(issues)}


def keep_order() -> dict:
    return {"scenes": [{"id": "s1", "beats": ["b1", "b2"]}, {"id": "s2", "beats": ["b1"]}]}


def draft(**scenes_kw) -> list:
    return [cast_part(), stage_part(), scenes_part(**scenes_kw)]


def designed(answers: list, **kw) -> tuple[Blueprint, ScriptedModel]:
    from dramaturg.models import run_sync

    model = ScriptedModel(answers)
    bp = run_sync(design_blueprint(TOPIC, model=model, scenes=2, **kw))
    model.assert_consumed()
    return bp, model


def sample() -> Blueprint:
    bp, _ = designed([*draft(), ok(), keep_order()])
    return bp


# ----------------------------------------------------------------- the pipeline
def test_reviewer_rejection_drives_one_revision():
    issue = "s2 has no conflict: let Claudius interrupt Ophelia."
    answers = [
        Reply(cast_part(), caller="designer:cast"),
        Reply(stage_part(), caller="designer:stage"),
        Reply(scenes_part(), caller="designer:scenes"),
        Reply(reject(issue), caller="reviewer"),
        *draft(tag=" again"),
        Reply(ok(), caller="reviewer"),
        Reply(
            {"scenes": [{"id": "s1", "beats": ["b2", "b1"]}, {"id": "s2", "beats": ["b1"]}]},
            caller="director:blueprint",
        ),
    ]
    bp, model = designed(answers)
    assert bp.revisions == 1
    prompts = [c.prompt for c in model.calls]
    assert all(issue not in p for p in prompts[:4])
    assert all(issue in p for p in prompts[4:7])  # every part of the redraft saw the issue
    assert '"premise":"A prince learns' in prompts[4]  # and its own last draft
    # The revised draft was kept, and the director's order applied (renumbered).
    assert [(b.id, b.text) for b in bp.scene("s1").beats] == [
        ("b1", "Hamlet swears revenge again."),
        ("b2", "The ghost appears again."),
    ]
    assert bp.topic == TOPIC and set(bp.cast) == {"hamlet", "ophelia"}


@pytest.mark.parametrize("max_revisions", [0, 1, 2])
def test_revisions_are_bounded(max_revisions):
    answers = [*draft()]
    for _ in range(max_revisions):
        answers += [reject("make it darker"), *draft()]
    bp, model = designed([*answers, keep_order()], max_revisions=max_revisions)
    assert bp.revisions == max_revisions
    # No review after the last revision: its verdict could change nothing.
    assert [c.caller for c in model.calls].count("reviewer") == max_revisions
    assert model.calls[-1].caller == "director:blueprint"


def test_bad_cross_reference_is_fed_back_then_fixed():
    bp, model = designed([*draft(place="crypt"), *draft(), ok(), keep_order()])
    assert bp.revisions == 1
    callers = [c.caller for c in model.calls]
    # An invalid draft goes straight back to the designer, not to the reviewer.
    assert callers[:4] == ["designer:cast", "designer:stage", "designer:scenes", "designer:cast"]
    assert "scenes.0.place: unknown place 'crypt'" in model.calls[5].prompt
    assert bp.scene("s1").place == "hall"


def test_still_invalid_after_last_revision_raises():
    model = ScriptedModel([*draft(place="crypt"), *draft(place="crypt")])
    from dramaturg.models import run_sync

    with pytest.raises(
        BlueprintError, match=r"after 1 revision.*\n.*scenes.0.place: unknown place 'crypt'"
    ):
        run_sync(design_blueprint(TOPIC, model=model, scenes=2, max_revisions=1))
    model.assert_consumed()


def test_requested_characters_must_be_in_the_cast():
    wanted = ["Ophelia", "Polonius"]
    fixed = cast_part("Hamlet", "Ophelia", "Polonius")
    bp, model = designed(
        [*draft(), fixed, stage_part(), scenes_part(), ok(), keep_order()], characters=wanted
    )
    assert "Characters: Ophelia, Polonius" in model.calls[0].prompt
    assert "cast: Polonius must be one of the characters" in model.calls[3].prompt
    assert "The cast must include: Ophelia, Polonius" in model.calls[6].prompt
    assert bp.cast["polonius"].name == "Polonius" and bp.revisions == 1


def test_missing_requested_character_is_an_error_in_the_end():
    from dramaturg.models import run_sync

    model = ScriptedModel(draft())
    with pytest.raises(BlueprintError, match="Polonius must be one of the characters"):
        run_sync(
            design_blueprint(TOPIC, model=model, characters=["Polonius"], scenes=2, max_revisions=0)
        )


def test_each_role_can_have_its_own_model():
    from dramaturg.models import run_sync

    designer, reviewer, director = (
        ScriptedModel(draft()),
        ScriptedModel([ok()]),
        ScriptedModel([keep_order()]),
    )
    bp = run_sync(
        design_blueprint(
            TOPIC,
            model=ScriptedModel([]),
            scenes=2,
            designer_model=designer,
            reviewer_model=reviewer,
            director_model=director,
        )
    )
    for m in (designer, reviewer, director):
        m.assert_consumed()
    assert len(bp.scenes) == 2


def test_references_written_as_names_resolve_to_ids():
    scenes = scenes_part(place="Great Hall", cast=("Hamlet", "ophelia"))
    bp, _ = designed([cast_part(location="Great Hall"), stage_part(), scenes, ok(), keep_order()])
    assert bp.cast["hamlet"].location == "hall"
    assert bp.scene("s1").place == "hall" and bp.scene("s1").cast == ["hamlet", "ophelia"]


def test_director_cuts_and_ignores_unknown_ids():
    cut = {"scenes": [{"id": "s9", "beats": ["b1"]}, {"id": "s1", "beats": ["b2", "bx"]}]}
    bp, _ = designed([*draft(), ok(), cut])
    assert [s.id for s in bp.scenes] == ["s1"]  # s2 cut, s9 unknown
    assert [(b.id, b.text) for b in bp.scenes[0].beats] == [("b1", "Hamlet swears revenge.")]
    nothing = {"scenes": [{"id": "s9", "beats": []}]}
    kept, _ = designed([*draft(), ok(), nothing])
    assert [s.id for s in kept.scenes] == ["s1", "s2"]  # a cut of nothing keeps the play


def test_the_scene_count_is_part_of_the_schema():
    # On llama.cpp the grammar then produces exactly that many scenes; a short answer is invalid output.
    from dramaturg.errors import ModelOutputError
    from dramaturg.models import run_sync

    bp, model = designed([*draft(), ok(), keep_order()])
    schema = model.calls[2].opts["json_schema"]["properties"]["scenes"]
    assert schema["minItems"] == schema["maxItems"] == 2 and len(bp.scenes) == 2
    one = {"scenes": scenes_part()["scenes"][:1]}
    with pytest.raises(ModelOutputError):
        run_sync(
            design_blueprint(TOPIC, model=ScriptedModel([cast_part(), stage_part(), one]), scenes=2)
        )


def test_a_repeated_cast_entry_is_dropped_and_a_prop_placed_nowhere_lands_in_the_first_place():
    cast = cast_part()
    cast["cast"] = cast["cast"] + cast["cast"]  # a small model repeating its list
    stage = stage_part()
    stage["props"][0].pop("location")
    bp, _ = designed([cast, stage, scenes_part(), ok(), keep_order()])
    assert list(bp.cast) == ["hamlet", "ophelia"] and bp.stage.props["skull"].location == "hall"


def test_unexpected_extra_call_is_caught():
    # The pipeline makes exactly the calls described: one fewer answer fails loudly.
    from dramaturg.models import run_sync

    with pytest.raises(ScriptError):
        run_sync(design_blueprint(TOPIC, model=ScriptedModel([*draft(), ok()]), scenes=2))


def test_bad_arguments_are_config_errors():
    from dramaturg.models import run_sync

    with pytest.raises(ConfigError, match="scenes >= 1"):
        run_sync(design_blueprint(TOPIC, model=ScriptedModel([]), scenes=0))


# ----------------------------------------------------------------- YAML files
def rich() -> Blueprint:
    bp = sample()
    data = bp.model_dump()
    data["revisions"] = 1
    data["premise"] = "Two lines:\nfirst, then second.\n"
    data["cast"]["ophelia"]["name"] = "Ófelia ✿"
    data["cast"]["ophelia"]["player"] = True
    data["cast"]["hamlet"]["emotion"] = "yes"  # would read back as a bool if left unquoted
    data["cast"]["hamlet"]["goals"] = ["1", ": colon", "  leading space", "null"]
    data["stage"]["props"]["skull"]["states"] = {"cracked": False, "weight": 3, "colour": "white"}
    data["stage"]["props"]["skull"]["affordances"] = {
        "kiss": {"held": True, "text": "{actor} kisses the {prop}."}
    }
    data["scenes"][0]["beats"][0]["status"] = "done"
    return Blueprint.model_validate(data)


def test_yaml_round_trip_is_exact(tmp_path):
    bp = rich()
    path = bp.save(tmp_path / "play.yaml")
    assert Blueprint.load(path) == bp
    text = path.read_text(encoding="utf-8")
    assert "Ófelia ✿" in text  # unicode kept, not escaped
    assert "premise: |" in text  # multi-line text as a block a person can edit
    keys = [line.split(":")[0] for line in text.splitlines() if line[:1].isalpha()]
    assert keys == ["title", "topic", "premise", "revisions", "cast", "stage", "scenes"]
    # Block style throughout: no flow mappings or sequences outside quoted text.
    assert not any(
        line.rstrip().endswith(("{}", "[]")) or ": {" in line or ": [" in line
        for line in text.splitlines()
    )


def test_hand_edited_typo_is_refused_with_the_field_named(tmp_path):
    path = sample().save(tmp_path / "play.yaml")
    path.write_text(
        path.read_text(encoding="utf-8").replace("background:", "backgrund:", 1), encoding="utf-8"
    )
    with pytest.raises(BlueprintError) as exc:
        Blueprint.load(path)
    assert str(path) in str(exc.value)
    assert "cast.hamlet.backgrund: Extra inputs are not permitted" in str(exc.value)


def test_bad_reference_in_a_file_names_the_field(tmp_path):
    path = tmp_path / "play.yaml"
    data = yaml.safe_load(sample().to_yaml())
    data["cast"]["hamlet"]["location"] = "x"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(BlueprintError, match=r"cast\.hamlet\.location: unknown place 'x'"):
        Blueprint.load(path)


def test_broken_yaml_names_the_file(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("title: [unclosed\ncast: {", encoding="utf-8")
    with pytest.raises(BlueprintError, match=r"broken\.yaml is not valid YAML"):
        Blueprint.load(path)
    with pytest.raises(BlueprintError, match="cannot read"):
        Blueprint.load(tmp_path / "missing.yaml")


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (("scenes", 0, "beats", 1, "id"), "b1", "scenes.0.beats.1.id: duplicate beat id 'b1'"),
        (("scenes", 1, "cast", 0), "yorick", "scenes.1.cast.0: unknown character 'yorick'"),
        (
            ("cast", "hamlet", "secrets", 0, "known_by", 0),
            "ghost",
            "cast.hamlet.secrets.0.known_by: unknown character 'ghost'",
        ),
        (
            ("stage", "props", "letter", "holder"),
            "ghost",
            "stage.props.letter.holder: unknown character 'ghost'",
        ),
        (
            ("stage", "places", "hall", "exits", "north"),
            "moon",
            "stage.places.hall.exits.north: unknown place 'moon'",
        ),
    ],
)
def test_cross_references_are_checked(path, value, expected):
    data = sample().model_dump()
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(ValueError, match=expected.replace(".", r"\.")):
        Blueprint.model_validate(data)


# ----------------------------------------------------------------- theatre stages
def test_to_stage_plays_in_the_theatre():
    bp = sample()
    world = TheatreWorld(bp.to_stage())
    check_world(world)
    obs, info = world.reset(seed=0)
    assert info["turn"] == "hamlet" and "Great Hall" in obs
    obs, *_ = world.step("wait")
    obs, _, _, _, info = world.step('say Hamlet "Did you see it?"')
    assert info["error"] is None and sorted(info["events"][0].witnesses) == ["hamlet", "ophelia"]
    assert world.stage.characters["hamlet"].relationships["ophelia"].kind == "knows them"


def test_to_stage_of_one_scene():
    data = sample().model_dump()
    data["stage"]["places"]["cellar"] = {"name": "Cellar", "exits": {"up": "garden"}}
    data["stage"]["places"]["garden"]["exits"]["down"] = "cellar"
    data["scenes"][0]["cast"] = ["ophelia"]
    bp = Blueprint.model_validate(data)
    stage = bp.to_stage("s1")
    assert list(stage.characters) == ["ophelia"] and stage.characters["ophelia"].location == "hall"
    assert set(stage.locations) == {"hall", "garden"}  # one exit away; the cellar is not
    assert "down" not in stage.locations["garden"].exits  # no exit to a place left out
    assert set(stage.props) == {"skull"}  # the letter's holder is not in the scene
    assert stage.turn_order == ["ophelia"] and stage.title == "The Ghost: Midnight"
    world = TheatreWorld(stage)
    world.reset()
    assert world.step("move north")[4]["error"] is None
    with pytest.raises(ConfigError, match="no scene 's7'"):
        bp.to_stage("s7")


def test_from_stage_elsinore():
    stage = load_stage("elsinore")
    bp = Blueprint.from_stage(stage, topic="Hamlet's letter")
    assert bp.topic == "Hamlet's letter" and len(bp.scenes) == 1
    scene = bp.scenes[0]
    assert [b.text for b in scene.beats] == [stage.goal.text]
    assert scene.cast == ["hamlet", "ophelia", "claudius", "horatio"] and scene.place == "hall"
    again = bp.to_stage()
    assert again.locations.keys() == stage.locations.keys() and again.props == stage.props
    assert {c: ch.location for c, ch in again.characters.items()} == {
        c: ch.location for c, ch in stage.characters.items()
    }
    world = TheatreWorld(again)
    world.reset()
    _, _, _, _, info = world.step('say Claudius "Something is rotten."')
    assert sorted(info["events"][0].witnesses) == [
        "claudius",
        "hamlet",
        "horatio",
    ]  # Horatio still listens
