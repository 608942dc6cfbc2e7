"""Character ids that would clash with attribute names are refused, naming the id.

The attack: a blueprint whose cast id was ``model_config`` loaded fine, then
``dramaturg drama new --mode ensemble`` crashed with ``AttributeError`` (the
ensemble schema has one pydantic field per character id).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from dramaturg._ids import reserved_id
from dramaturg.cli import app
from dramaturg.drama import Actor, Blueprint, load_card
from dramaturg.drama.actor import ActorView
from dramaturg.drama.blueprint import BlueprintError
from dramaturg.errors import ConfigError
from dramaturg.models import ScriptedModel
from dramaturg.worlds.theatre import StageFileError, load_stage

PLAY = Path(__file__).resolve().parents[1] / "dramaturg" / "drama" / "plays" / "elsinore.yaml"


@pytest.mark.parametrize(
    "cid",
    [
        "model_config",
        "model_fields",
        "json",
        "copy",
        "schema",
        "validate",
        "class",
        "match",
        "_private",
    ],
)
def test_reserved_ids(cid):
    assert cid in reserved_id(cid)


@pytest.mark.parametrize("cid", ["hamlet", "lady_macbeth", "c_model_config", "models", "jsonl"])
def test_ordinary_ids(cid):
    assert reserved_id(cid) is None


def test_a_play_with_a_model_config_character_is_refused_before_ensemble_mode_crashes(tmp_path):
    play = tmp_path / "play.yaml"
    play.write_text(
        PLAY.read_text(encoding="utf-8").replace("hamlet", "model_config"), encoding="utf-8"
    )
    with pytest.raises(
        BlueprintError, match=r"cast\.model_config: 'model_config' is a name pydantic models keep"
    ):
        Blueprint.load(play)
    result = CliRunner().invoke(
        app, ["drama", "new", "--blueprint", str(play), "--mode", "ensemble", "--quiet"]
    )
    said = " ".join(result.output.split())
    assert result.exit_code == 1 and "'model_config' is a name pydantic models keep" in said
    assert not isinstance(result.exception, AttributeError)


def test_a_stage_with_a_keyword_character_is_refused():
    stage = (
        "title: t\nlocations:\n  hall: {name: Hall}\n"
        "characters:\n  class: {name: Class, location: hall}\n"
    )
    with pytest.raises(StageFileError, match=r"characters\.class: 'class' is a Python keyword"):
        load_stage(stage)


async def test_the_ensemble_refuses_a_reserved_id_built_in_code():
    view = ActorView(character="model_config", name="M", persona="", scene="hall", beat=None)
    with pytest.raises(ConfigError, match="'model_config'"):
        await Actor(model=ScriptedModel([])).ensemble([view])


def test_a_card_whose_name_is_reserved_joins_under_another_id():
    card = load_card({"name": "Model Config", "description": "A clerk."})
    bp = Blueprint.load(PLAY).with_cards([card])
    assert "c_model_config" in bp.cast and "model_config" not in bp.cast
