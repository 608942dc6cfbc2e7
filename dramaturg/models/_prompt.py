"""Rendering chat messages as text a *base* model continues well.

Gemma 3 270M as packaged is a pretrained base model: it never learned a chat
template. It does know transcripts. So a conversation is rendered as::

    <system text>

    User: ...
    Assistant: ...
    Assistant:

with the speaker's ``name`` used as its label when a message has one (a
drama transcript reads "Hamlet: ..."), and generation stops when the model
starts a new speaker line. The stable part (system text, earlier turns)
comes first, so llama.cpp reuses its KV cache across turns.

``gemma`` renders Gemma's own turn markers instead; benchmarks/prompt_formats.py
compares the two on the packaged model (see benchmarks/RESULTS.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from dramaturg.models.base import Message

__all__ = ["PromptFormat", "render_prompt"]

PromptFormat = Literal["transcript", "gemma"]


def _label(msg: Message) -> str:
    name = msg.get("name")
    if name:
        return name
    return "User" if msg["role"] == "user" else "Assistant"


def render_prompt(
    messages: Sequence[Message], *, fmt: PromptFormat = "transcript", responder: str | None = None
) -> tuple[str, list[str]]:
    """Return ``(prompt, stop_sequences)`` for ``messages``.

    Args:
        messages: the conversation; system messages may appear anywhere and
            are gathered at the top in order.
        fmt: ``"transcript"`` or ``"gemma"``.
        responder: the label the answer is written under (default
            ``"Assistant"``; a drama passes the acting character's name).
    """
    system_text = "\n\n".join(m["content"].strip() for m in messages if m["role"] == "system")
    turns = [m for m in messages if m["role"] != "system"]
    if fmt == "gemma":
        parts = []
        for i, m in enumerate(turns):
            role = "model" if m["role"] == "assistant" else "user"
            content = m["content"]
            if i == 0 and system_text and role == "user":
                content = f"{system_text}\n\n{content}"
            parts.append(f"<start_of_turn>{role}\n{content}<end_of_turn>\n")
        if system_text and (not turns or turns[0]["role"] != "user"):
            parts.insert(0, f"<start_of_turn>user\n{system_text}<end_of_turn>\n")
        return "".join(parts) + "<start_of_turn>model\n", ["<end_of_turn>", "<start_of_turn>"]

    answer_label = responder or "Assistant"
    labels = {_label(m) for m in turns} | {"User", answer_label}
    lines = [system_text + "\n\n"] if system_text else []
    for m in turns:
        lines.append(f"{_label(m)}: {m['content'].strip()}\n")
    prompt = "".join(lines) + f"{answer_label}:"
    stops = sorted({f"\n{label}:" for label in labels})
    return prompt, stops
