"""The embedded model: llama.cpp in-process running the packaged Gemma 3 270M."""

from __future__ import annotations

import asyncio
import time

import pytest
from pydantic import BaseModel, Field

from dramaturg.errors import ConfigError, ModelError
from dramaturg.models import LocalModel, assistant, system, user
from dramaturg.models._weights import default_weights
from dramaturg.models.base import json_schema_of

from .schemas import Beat, Mood

pytestmark = pytest.mark.model

SITUATIONS = [
    ("Hamlet", "a skull", "grief"),
    ("Ophelia", "a flower", "sorrow"),
    ("Macbeth", "a dagger", "fear"),
    ("Lady Macbeth", "a candle", "guilt"),
    ("Juliet", "a vial", "love"),
    ("Romeo", "a sword", "rage"),
    ("Lear", "a crown", "madness"),
    ("Cordelia", "a letter", "calm"),
    ("Prospero", "a staff", "wonder"),
    ("Ariel", "a shell", "joy"),
    ("Othello", "a handkerchief", "jealousy"),
    ("Iago", "a purse", "spite"),
    ("Viola", "a ring", "longing"),
    ("Puck", "a flower", "mischief"),
    ("Portia", "a casket", "resolve"),
    ("Shylock", "a knife", "anger"),
    ("Brutus", "a scroll", "doubt"),
    ("Cassius", "a coin", "envy"),
    ("Horatio", "a lantern", "watchfulness"),
    ("Banquo", "a torch", "suspicion"),
]


@pytest.fixture(scope="module")
def model():
    return LocalModel(n_ctx=2048)


def test_weights_are_assembled_once_and_verified():
    path = default_weights()
    stamp = path.with_name(path.name + ".verified.json")
    assert path.stat().st_size > 200_000_000 and stamp.exists()
    t0 = time.perf_counter()
    assert default_weights() == path
    assert time.perf_counter() - t0 < 0.05  # the second call is a stat, not a hash


def test_complete_reports_usage_and_timing(model):
    out = model.complete_sync(
        [system("A fairy tale."), user("Once upon a time")], max_tokens=24, temperature=0
    )
    assert out.text
    assert out.usage.prompt_tokens > 5 and 0 < out.usage.completion_tokens <= 25
    assert out.finish_reason in {"stop", "length"}
    assert out.ttft_s is not None and 0 < out.ttft_s <= out.latency_s


def test_a_lone_surrogate_in_the_prompt_is_read_as_a_replacement_character(model):
    # A page or a file can hold one; UTF-8 cannot, and the tokenizer wants UTF-8.
    msgs = [system("A text game."), user("-= Kitchen \udfff =-\nYou see a fridge \ud800.")]
    out = model.complete_sync(msgs, max_tokens=4, temperature=0)
    same = model.complete_sync(
        [system("A text game."), user("-= Kitchen \ufffd =-\nYou see a fridge \ufffd.")],
        max_tokens=4,
        temperature=0,
    )
    # (the texts may differ: the second call reads the first one's cached prefix)
    assert out.finish_reason in {"stop", "length"}
    assert out.usage.prompt_tokens == same.usage.prompt_tokens


def test_greedy_decoding_is_deterministic(model):
    msgs = [user("The three primary colours are")]
    a = model.complete_sync(msgs, max_tokens=16, temperature=0)
    model.complete_sync(
        [user("Something else entirely, to move the cache")], max_tokens=4, temperature=0
    )
    b = model.complete_sync(msgs, max_tokens=16, temperature=0)
    assert a.text == b.text


def test_structured_is_valid_20_times_out_of_20(model):
    """No retries: the bare backend, constrained by the schema's grammar."""
    example = (
        '{"speaker": "Yorick", "mood": "calm", "prop": {"name": "bell", "held": true}, '
        '"lines": ["Hark, a jest!"]}'
    )
    results = []
    for who, prop, feeling in SITUATIONS:
        msgs = [
            system(
                "Each beat of a play as JSON: who speaks, their mood, the prop they use and their lines."
            ),
            user("Yorick enters with a bell, calm, and speaks."),
            assistant(example),
            user(f"{who} enters with {prop}, full of {feeling}, and speaks."),
        ]
        beat = model.structured_sync(msgs, Beat)
        assert isinstance(beat, Beat) and isinstance(beat.mood, Mood) and 1 <= len(beat.lines) <= 3
        results.append(beat)
    assert len(results) == 20


def test_a_repeated_prefix_is_served_from_the_kv_cache(model):
    prefix = [system("You are Hamlet, Prince of Denmark. " * 40)]
    first = model.complete_sync([*prefix, user("Who are you?")], max_tokens=4, temperature=0)
    second = model.complete_sync([*prefix, user("Where is Ophelia?")], max_tokens=4, temperature=0)
    assert first.usage.prompt_tokens > 300
    assert second.usage.cached_prompt_tokens >= first.usage.prompt_tokens - 20
    assert second.ttft_s < first.ttft_s


async def test_concurrent_calls_are_serialized_without_blocking_the_loop(model):
    ticks = 0
    done = asyncio.Event()

    async def ticker():
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0.01)

    tick_task = asyncio.create_task(ticker())
    outs = await asyncio.gather(
        *(
            model.complete([user(f"Count to {n}:")], max_tokens=12, temperature=0)
            for n in range(3, 7)
        )
    )
    done.set()
    await tick_task
    assert all(o.text for o in outs)
    assert ticks > 10  # the loop kept running while llama.cpp worked


def test_prompt_longer_than_the_context_is_a_clear_error():
    small = LocalModel(n_ctx=256)
    with pytest.raises(ModelError, match="context holds 256"):
        small.complete_sync([user("word " * 400)], max_tokens=8)


def test_lora_paths_are_checked(tmp_path):
    with pytest.raises(ConfigError, match="LoRA adapter not found"):
        LocalModel(lora_path=tmp_path / "missing.gguf").load()
    # A full model is not an adapter: llama.cpp refuses it, and we say which file.
    with pytest.raises(ConfigError, match="LoRA"):
        LocalModel(lora_path=default_weights(), n_ctx=256).load()


class _Word(BaseModel):
    word: str


class _Impossible(BaseModel):
    word: str = Field(pattern="^zq[xv]{3}$")


def test_an_answer_forced_by_the_grammar_is_marked_constrained(model):
    """A well-prompted call is answered by the free pass; an answer no one writes needs the grammar."""
    shots = [
        system("Answer with JSON."),
        user("Say yes."),
        assistant('{"word": "yes"}'),
        user("Say no."),
    ]
    free = model.complete_sync(
        shots, json_schema=json_schema_of(_Word), response_model=_Word, temperature=0
    )
    assert _Word.model_validate_json(free.text) and not free.constrained
    forced = model.complete_sync(
        shots, json_schema=json_schema_of(_Impossible), response_model=_Impossible, temperature=0
    )
    assert forced.constrained and _Impossible.model_validate_json(forced.text).word.startswith("zq")
