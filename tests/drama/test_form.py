"""The play designer on a base model: a text form filled field by field (scripted base models), and once on
the embedded model."""

from __future__ import annotations

import itertools
import re
import time

import pytest

from dramaturg.drama._copies import copied
from dramaturg.drama.blueprint import Blueprint
from dramaturg.drama.design import Reviewer, design_blueprint
from dramaturg.drama.form import FormDesigner, topic_issue, topic_words
from dramaturg.errors import ConfigError
from dramaturg.models import Reply, ScriptedModel

TOPIC = "two sisters fight over their father's farm"

GOOD = {
    "title": ["Harvest of Quarrels"],
    "premise": ["When their father dies, Greta and Hanne both claim the family farm."],
    "character": [
        "Greta Holm: the elder sister, who stayed to work the land",
        "Hanne Holm: the younger sister, back from the city",
        "Lars Berg: the farmhand who knows the will",
    ],
    "place": ["the farmhouse kitchen", "the barley field"],
    "scene": [
        "tells Hanne that the farm is hers by right",
        "shows Lars the letter she found in the barn",
        "reads the will aloud to both sisters in the field",
    ],
    "line": [
        "You left, and I stayed.",
        "I came back for him, not for the land.",
        "Look at this, Lars.",
        "Where did you find that?",
        "Sit down, both of you.",
        "Just read it.",
    ],
}


class FormWriter:
    """Answers each raw completion by the field the form asks for; per field, answers are used in order."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = {k: list(v) for k, v in answers.items()}

    @staticmethod
    def field(prompt: str) -> str:
        tail = prompt.rsplit("\nTopic:", 1)[1]
        last = tail.rsplit("\n", 1)[1]
        if last in ("Title:", "Premise:"):
            return last[:-1].lower()
        if re.fullmatch(r"\d+\. .+", last):
            return "scene"
        if re.fullmatch(r"[A-Z][A-Z .'-]*:", last):
            return "line"
        section = max(("Characters:", "Places:"), key=lambda h: tail.rfind("\n" + h))
        return "character" if section == "Characters:" else "place"

    def __call__(self, messages: list, opts: dict) -> str:
        assert opts["raw"] and opts["stop"] == ["\n"]
        queue = self.answers[self.field(messages[-1]["content"])]
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        return answer if answer.startswith("'") else " " + answer  # as tokens come: " tells", "'s"


def base_model(answers: dict[str, list[str]], calls: int) -> ScriptedModel:
    writer = FormWriter(answers)
    return ScriptedModel([Reply(writer, expect="complete")] * calls, kind="base")


def with_(**changes: list[str]) -> dict[str, list[str]]:
    return {**GOOD, **changes}


async def designed(
    answers: dict[str, list[str]], calls: int, **kw
) -> tuple[Blueprint, ScriptedModel]:
    model = base_model(answers, calls)
    bp = await design_blueprint(TOPIC, model=model, **kw)
    model.assert_consumed()
    return bp, model


def subject_object(bp: Blueprint) -> list[str]:
    """Beats whose first two character mentions are the same character ("Mara asks Mara ...")."""
    names = {cid: c.name.split()[0] for cid, c in bp.cast.items()}
    bad = []
    for scene in bp.scenes:
        for beat in scene.beats:
            hits = sorted(
                (m.start(), cid)
                for cid, n in names.items()
                for m in re.finditer(rf"\b{n}\b", beat.text)
            )
            if len(hits) >= 2 and hits[0][1] == hits[1][1]:
                bad.append(beat.text)
    return bad


# ----------------------------------------------------------------- the form, field by field
async def test_a_base_model_fills_the_form_and_code_lays_out_the_play():
    bp, model = await designed(
        GOOD, calls=16
    )  # title, premise, 3 characters, 2 places, 3 scenes, 6 lines
    assert all(
        c.opts["raw"] and c.kind == "complete" for c in model.calls
    )  # no JSON, no review, no director
    assert bp.title == "Harvest of Quarrels" and bp.revisions == 0
    assert [c.name for c in bp.cast.values()] == ["Greta Holm", "Hanne Holm", "Lars Berg"]
    assert (
        list(bp.cast) == ["greta", "hanne", "lars"]
        and bp.cast["lars"].background == "the farmhand who knows the will"
    )
    assert list(bp.stage.places) == ["farmhouse_kitchen", "barley_field"]
    assert bp.stage.places["farmhouse_kitchen"].exits == {"north": "barley_field"}
    # The characters take turns as the scenes' subjects; whoever else a scene names is in it.
    assert [s.beats[0].text for s in bp.scenes] == [
        "Greta tells Hanne that the farm is hers by right.",
        "Hanne shows Lars the letter she found in the barn.",
        "Lars reads the will aloud to both sisters in the field.",
    ]
    assert [s.cast for s in bp.scenes] == [["greta", "hanne"], ["hanne", "lars"], ["lars", "greta"]]
    # A scene is where its line says (farm ~ farmhouse, field), else at the places in turn.
    assert [s.place for s in bp.scenes] == ["farmhouse_kitchen", "barley_field", "barley_field"]
    assert [(x.speaker, x.text) for x in bp.scenes[1].opening] == [
        ("hanne", "Look at this, Lars."),
        ("lars", "Where did you find that?"),
    ]
    assert bp.cast["greta"].goals == ["Greta tells Hanne that the farm is hers by right"]
    # Each field extends the text of the one before (llama.cpp reuses the prefix) and has its own seed.
    prompts = [c.messages[0]["content"] for c in model.calls]
    assert all(b.startswith(a.rsplit("\n", 1)[0]) for a, b in itertools.pairwise(prompts))
    assert prompts[-1].endswith("Scene 3 opens:\nLARS: Sit down, both of you.\nGRETA:")
    assert len({c.opts["seed"] for c in model.calls}) == 16
    assert Blueprint.model_validate(bp.model_dump()) == bp


async def test_samples_that_copy_an_example_or_repeat_a_field_are_drawn_again():
    model = base_model(
        with_(
            title=["Stop Shouting, It Was Me", "Harvest of Quarrels"],  # an example's opening line
            premise=[
                "Each outline gives the play's title, its premise and more.",  # 8 words of the form's header
                "When their father dies, Greta and Hanne both claim the family farm.",
            ],
            character=[
                "Odile Marsh: a sister who keeps bees",  # an example's name
                "Greta Holm: the elder sister, who stayed to work the land",
                "Greta Holm: the elder sister, who stayed to work the land",  # the same character again
                "Hanne Holm: the younger sister, back from the city",
                "Lars Berg: the farmhand who knows the will",
            ],
            scene=[
                "tells Hanne that the farm is hers by right",
                "tells Greta that the farm is hers by right",
                "shows Lars the letter she found in the barn",
                "reads the will aloud to both sisters",
            ],
        ),
        calls=21,
    )
    form = await FormDesigner(model=model).draft(TOPIC)
    model.assert_consumed()
    assert [(f, why) for f, _, why in form.refused] == [
        ("title", "copies an example field"),
        ("premise", "copies 8 words of a prompt"),
        ("character 1", "uses a word only the examples have"),
        ("character 2", "a name already taken"),
        ("scene 2", "repeats another field"),
    ]
    assert form.title == "Harvest of Quarrels" and form.fallbacks == []
    assert len({s.text for s in form.scenes}) == 3


async def test_after_the_bounded_tries_code_writes_each_field_from_the_topic():
    model = base_model(
        {k: [""] for k in GOOD}, calls=16 * 3
    )  # every sample empty, three tries a field
    form = await FormDesigner(model=model).draft(TOPIC)
    model.assert_consumed()
    assert len(form.fallbacks) == 16 - 6 + 3  # the lines are left out, then one written per scene
    assert (
        form.title == "The Farm" and form.premise == "Two sisters fight over their father's farm."
    )
    bp = Blueprint.model_validate(form.blueprint_data())
    texts = [s.beats[0].text for s in bp.scenes]
    assert len(set(texts)) == 3 and not subject_object(bp)
    assert all(len(s.opening) == 1 and s.opening[0].speaker == s.cast[0] for s in bp.scenes)
    assert len(set(bp.cast)) == 3 and not Reviewer(model=model).check(bp)


async def test_a_scene_never_has_one_character_as_subject_and_object():
    model = base_model(
        with_(
            scene=[
                "asks Greta to sell the farm",
                "asks Greta Holm for the keys",  # Greta, Greta
                "'s letter reaches Hanne at last",
                "shows Lars the letter she found in the barn",
                "reads the will aloud to both sisters. Greta weeps.",
            ]
        ),
        calls=18,
    )
    form = await FormDesigner(model=model).draft(TOPIC)
    model.assert_consumed()
    assert [why for *_, why in form.refused] == ["Greta is both subject and object"] * 2
    assert (
        form.scenes[0].text == "Greta's letter reaches Hanne at last"
    )  # the sample starts the word
    assert (
        form.scenes[2].text == "Lars reads the will aloud to both sisters."
    )  # one sentence a scene
    assert not subject_object(Blueprint.model_validate(form.blueprint_data()))


async def test_opening_lines_are_spoken_by_the_scene_cast_and_refused_when_not_one_line():
    model = base_model(
        with_(
            line=[
                "Greta, you never listen.",  # Greta names herself
                "Lars told me everything.",  # Lars is not in the scene
                "You left, and I stayed.",
                "HANNE: I came back for him.",  # a speaker's tag: a dialogue, not a line
                "I came back for him, not for the land.",
                "Look at this, Lars.",
                "Where did you find that?",
                "Sit down, both of you.",
                "Just read it.",
            ]
        ),
        calls=19,
    )
    form = await FormDesigner(model=model).draft(TOPIC)
    model.assert_consumed()
    assert [why for *_, why in form.refused] == [
        "the speaker talks to themself",
        "talks to someone not in the scene",
        "not one line",
    ]
    bp = Blueprint.model_validate(form.blueprint_data())
    assert all(line.speaker in s.cast for s in bp.scenes for line in s.opening)
    assert [x.speaker for x in bp.scenes[0].opening] == ["greta", "hanne"]


async def test_asked_for_characters_keep_their_names_and_the_model_writes_their_roles():
    model = base_model(
        with_(
            character=[
                "the sister who stayed",
                "Hanne Holm: the younger sister, back from the city",
                "Lars Berg: the farmhand who knows the will",
            ]
        ),
        calls=16,
    )
    form = await FormDesigner(model=model).draft(TOPIC, characters=["Greta"])
    model.assert_consumed()
    assert form.characters[0] == ("Greta", "the sister who stayed")
    assert model.calls[2].messages[0]["content"].endswith("Characters:\n- Greta:")


async def test_a_part_written_as_a_name_becomes_the_role_of_a_named_character():
    model = base_model(
        with_(
            character=[
                "The elder sister: she stayed to work the land",
                "Hanne Holm: the younger sister, back from the city",
                "Lars Berg: the farmhand who knows the will",
            ]
        ),
        calls=16,
    )
    form = await FormDesigner(model=model).draft(TOPIC)
    model.assert_consumed()
    name, role = form.characters[0]
    assert role == "the elder sister, she stayed to work the land" and not form.refused
    assert name.istitle() and "sister" not in name.lower()  # a person's name, written in code


async def test_form_sizes_are_checked():
    with pytest.raises(ConfigError, match="characters >= 2"):
        await FormDesigner(model=ScriptedModel([], kind="base"), characters=1).draft(TOPIC)


NASTY = [
    "",
    "   ",
    ":",
    "ODILE: hi there",
    "Odile Marsh: a beekeeper",
    "x" * 500,
    "The The The",
    "Greta: Greta",
    "asks Greta to help Greta",
    "Class: a keyword as a name",
    "Model_config Smith: a reserved id",
    "- - -",
    '{"title": "JSON"}',
    "Émile Zola: a writer",
    "Dr. Lee - the doctor",
    "1. 2. 3.",
    "the farm",
    "🎭",
    "tells Hanne that the farm is hers by right",
    "Hanne Holm: the younger sister, back from the city",
]


@pytest.mark.parametrize("seed", range(12))
async def test_whatever_a_base_model_writes_the_play_is_valid(seed):
    import random

    rng = random.Random(seed)
    # How many samples a form takes depends on the draws, so the script is long enough for three full
    # drafts of three tries a field, and unused answers are expected.
    model = ScriptedModel([Reply(lambda m, o: rng.choice(NASTY))] * 16 * 3 * 3, kind="base")
    bp = await design_blueprint(
        TOPIC, model=model, scenes=3, characters=["Greta"] if seed % 2 else None
    )
    assert Blueprint.model_validate(bp.model_dump()) == bp and not Reviewer(model=model).check(bp)
    assert len({b.text for s in bp.scenes for b in s.beats}) == 3 and not subject_object(bp)
    assert all(
        1 <= len(s.opening) <= 3 and all(x.speaker in s.cast for x in s.opening) for s in bp.scenes
    )
    assert not [t for t in (bp.title, bp.premise, *(c.name for c in bp.cast.values())) if copied(t)]


# ----------------------------------------------------------------- the topic check
def test_topic_words_are_content_words_stemmed():
    assert topic_words(TOPIC) == ["sister", "fight", "father", "farm"]
    assert topic_words("a baker's apprentice steals a recipe") == [
        "baker",
        "apprentice",
        "steal",
        "recipe",
    ]
    assert topic_words("a chess champion and the princesses") == ["chess", "champion", "princess"]
    assert topic_issue(TOPIC, ["The Farmer's Daughters"]) is None  # farmer ~ farm
    issue = topic_issue(
        "a royal court quarrels over a letter", ["The Keeper's Guest", "A lighthouse keeper."]
    )
    assert (
        issue
        and "share no word with the topic" in issue
        and "royal, court, quarrel, letter" in issue
    )


async def test_the_reviewer_sends_back_an_off_topic_play_without_asking_the_model():
    bp = Blueprint.model_validate(
        (await FormDesigner(model=base_model(GOOD, 16)).draft(TOPIC)).blueprint_data()
    )
    off = bp.model_copy(update={"topic": "a lighthouse keeper hides a smuggler"})
    review = await Reviewer(model=ScriptedModel([])).review(
        off
    )  # a model call would fail the script
    assert not review.ok and "share no word with the topic" in review.issues[0]
    asked = ScriptedModel([{"ok": True, "issues": []}])
    assert (await Reviewer(model=asked).review(bp)).ok and len(asked.calls) == 1


async def test_an_off_topic_form_is_redrafted_with_new_seeds():
    twice = {k: v * 2 for k, v in GOOD.items()}
    off = {
        "title": ["Night Watch", "Harvest of Quarrels"],
        "premise": [
            "A keeper hides a stranger from the guard.",
            "When their father dies, Greta and Hanne both claim the family farm.",
        ],
        "character": [
            "Greta Holm: a keeper of the light",
            "Hanne Holm: a stranger from the sea",
            "Lars Berg: an officer of the guard",
            *GOOD["character"],
        ],
    }
    bp, model = await designed({**twice, **off}, calls=32)
    assert bp.revisions == 1 and bp.title == "Harvest of Quarrels"
    first, second = ({c.opts["seed"] for c in model.calls[i : i + 16]} for i in (0, 16))
    assert not first & second


async def test_still_off_topic_after_the_last_redraft_the_premise_becomes_the_topic():
    off = with_(
        title=["Night Watch"],
        premise=["A keeper hides a stranger from the guard."],
        character=[
            "Greta Holm: a keeper of the light",
            "Hanne Holm: a stranger from the sea",
            "Lars Berg: an officer of the guard",
        ],
    )
    bp, _ = await designed(off, calls=16, max_revisions=0)
    assert bp.premise == "Two sisters fight over their father's farm." and bp.title == "Night Watch"


# ----------------------------------------------------------------- the embedded model
@pytest.mark.model
async def test_the_embedded_model_designs_a_play_about_its_topic():
    from dramaturg.models import load_model

    topic = "a chess champion suspects her coach"
    model = load_model("local")
    started = time.perf_counter()
    bp = await design_blueprint(topic, model=model, scenes=3)
    elapsed = time.perf_counter() - started
    cast = [f"{c.name} {c.background}" for c in bp.cast.values()]
    assert topic_issue(topic, [bp.title, bp.premise, *cast]) is None
    texts = [
        bp.title,
        bp.premise,
        *cast,
        *bp.stage.places,
        *(b.text for s in bp.scenes for b in s.beats),
        *(x.text for s in bp.scenes for x in s.opening),
    ]
    assert not [t for t in texts if copied(t)]
    assert len(bp.scenes) == 3 and len({s.beats[0].text for s in bp.scenes}) == 3
    assert not subject_object(bp)
    assert Blueprint.model_validate(bp.model_dump()) == bp and 2 <= len(bp.cast) <= 4
    assert all(
        1 <= len(s.opening) <= 3 and all(x.speaker in s.cast for x in s.opening) for s in bp.scenes
    )
    assert elapsed < 60, f"designing took {elapsed:.0f} s"
