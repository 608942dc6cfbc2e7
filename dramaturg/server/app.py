"""``dramaturg serve``: drama sessions in the browser.

One page (stage, cast, props, transcript, input) talks to the server over a
websocket; each turn streams in as it happens. Every session sits behind an
unguessable token, given once when the session is made; the server keeps
only its hash. Sessions live on disk (:mod:`dramaturg.drama.session`), so
they survive a restart of the server, even a kill -9.

Routes::

    GET  /                      the page
    POST /api/sessions          {"stage"|"stage_yaml"|"topic", "player", "mode", "max_turns", "max_scene_steps"}
                                -> {"id", "token", "url"}; needs ``Authorization: Bearer KEY`` when the server has a key
    GET  /api/sessions/{id}     the session's cast, stage, transcript and whose turn it is
    WS   /ws/{id}               {"token"} first, then {"input": "..."}; streams {"type": ...} messages

Before any route, :class:`~dramaturg.server._guard.Guard` refuses an untrusted
Host or Origin and an oversized body; see :class:`ServerPolicy` for the limits.

Example:
    $ dramaturg serve --host 127.0.0.1 --port 8765
"""

# No `from __future__ import annotations` here: FastAPI reads the routes' annotations at run
# time, and the request model and WebSocket are local to create_app (the web extra is optional),
# so string annotations would not resolve and the request body would be taken for a query parameter.
import asyncio
import json
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from dramaturg.errors import ConfigError, DramaturgError, MissingExtraError
from dramaturg.server._guard import Guard, ServerPolicy
from dramaturg.server._stages import MAX_STAGE_CHARS

__all__ = ["ServerPolicy", "create_app"]

MAX_MESSAGE = 4096  # bytes of one websocket message


def create_app(
    *,
    model: Any = None,
    home: Path | None = None,
    model_spec: str | None = None,
    policy: ServerPolicy | None = None,
):
    """The FastAPI app. ``model``: a ready ChatModel shared by every session (else each loads its spec).

    ``policy``: the hosts it answers to, the server key, and its limits (default: loopback use, no key).
    """
    try:
        from fastapi import FastAPI, Header, HTTPException, Request, WebSocket, WebSocketDisconnect
        from fastapi.responses import HTMLResponse
        from pydantic import BaseModel, ConfigDict, Field
    except ImportError as exc:  # pragma: no cover - the extra is missing
        raise MissingExtraError(
            "the web app needs the `web` extra: pip install 'dramaturg[web]'"
        ) from exc

    from dramaturg.drama.session import DramaSession

    policy = policy or ServerPolicy()
    app = FastAPI(title="dramaturg", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(Guard, policy=policy)
    locks: dict[str, asyncio.Lock] = {}

    class NewSession(BaseModel):
        model_config = ConfigDict(extra="forbid")

        stage: str | None = Field(default=None, max_length=200)
        stage_yaml: str | None = Field(default=None, max_length=MAX_STAGE_CHARS)
        topic: str | None = Field(default=None, max_length=500)
        player: str | None = Field(default=None, max_length=64)
        mode: Literal["per_actor", "ensemble"] = "per_actor"
        max_turns: int | None = Field(default=None, ge=1)
        max_scene_steps: int = Field(default=12, ge=1, le=1000)

    def open_session(sid: str, token: str | None) -> DramaSession:
        try:
            session = DramaSession.open(sid, home=home)
        except ConfigError:
            session = None
        # The same answer for a missing session and a wrong token: ids are not secrets, tokens are.
        if session is None or not session.check_token(token):
            raise HTTPException(status_code=403, detail="no such session, or not your token")
        if model is not None:
            session.use_model(model)
        return session

    @app.get("/", response_class=HTMLResponse)
    async def page() -> str:
        return resources.files("dramaturg.server").joinpath("page.html").read_text(encoding="utf-8")

    @app.post("/api/sessions")
    async def new(
        req: NewSession, request: Request, authorization: str | None = Header(default=None)
    ) -> dict[str, str]:
        from dramaturg.drama.design import design_blueprint
        from dramaturg.server._stages import bundled_stage, stage_blueprint, uploaded_stage

        if not policy.key_ok(authorization):
            raise HTTPException(
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="dramaturg"'},
                detail="this server needs its key to create a session: the one printed when "
                "it started (or its DRAMATURG_SERVER_TOKEN), as Authorization: Bearer KEY",
            )
        if sum(x is not None for x in (req.stage, req.stage_yaml, req.topic)) != 1:
            raise HTTPException(status_code=422, detail="give one of stage, stage_yaml or topic")
        if req.max_turns is not None and req.max_turns > policy.max_turns:
            raise HTTPException(
                status_code=422, detail=f"max_turns: at most {policy.max_turns} on this server"
            )
        try:
            if req.stage is not None:
                bp = stage_blueprint(bundled_stage(req.stage), req.stage)
            elif req.stage_yaml is not None:
                stage = uploaded_stage(req.stage_yaml)
                bp = stage_blueprint(stage, stage.title)
            else:
                from dramaturg.models import load_model

                bp = await design_blueprint(req.topic or "", model=model or load_model(model_spec))
            session, token = DramaSession.create(
                bp,
                player=req.player,
                model=model_spec,
                mode=req.mode,
                max_turns=req.max_turns or policy.max_turns,
                max_scene_steps=req.max_scene_steps,
                home=home,
            )
        except DramaturgError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from None
        # The Host passed the guard: it is a name this server answers to.
        base = f"{request.url.scheme}://{request.headers['host']}/"
        return {"id": session.meta.id, "token": token, "url": f"{base}#{session.meta.id}:{token}"}

    @app.get("/api/sessions/{sid}")
    async def show(sid: str, authorization: str | None = Header(default=None)) -> dict[str, Any]:
        token = authorization.removeprefix("Bearer ").strip() if authorization else None
        session = open_session(sid, token)
        return await snapshot(session)

    async def snapshot(session: DramaSession) -> dict[str, Any]:
        bp = session.blueprint
        state = await session.state()
        values = state["values"]
        world = values.get("world") or {}
        return {
            "id": session.meta.id,
            "title": bp.title,
            "player": session.meta.player,
            "cast": {
                cid: {
                    "name": c.name,
                    "location": (world.get("char_loc") or {}).get(cid, c.location),
                }
                for cid, c in bp.cast.items()
            },
            "props": {
                pid: {
                    "location": (world.get("prop_loc") or {}).get(pid),
                    "holder": (world.get("prop_holder") or {}).get(pid),
                    "states": _public_states(states),
                }
                for pid, states in (world.get("prop_states") or {}).items()
            },
            "scene": values.get("scene"),
            "beats": values.get("beats", []),
            "transcript": [
                shown
                for e in values.get("transcript", [])
                if (shown := _page_entry(e, session.meta.player)) is not None
            ],
            "waiting": state["waiting"],
            "ended": state["ended"],
            "started": state["started"],
        }

    @app.websocket("/ws/{sid}")
    async def play(ws: WebSocket, sid: str) -> None:
        await ws.accept()
        try:  # a socket that never says who it is would stay open for ever
            first = await asyncio.wait_for(ws.receive(), policy.hello_timeout_s)
        except TimeoutError:
            await ws.send_json(
                {"type": "error", "text": f"no token within {policy.hello_timeout_s:g} s; closing"}
            )
            await ws.close(code=4408)
            return
        if first.get("type") == "websocket.disconnect":
            return
        try:
            # A binary or oversized first message is as wrong as a bad token (receive_text would raise).
            text = first.get("text")
            hello = json.loads(text) if text is not None and len(text) <= MAX_MESSAGE else None
            session = open_session(sid, hello.get("token") if isinstance(hello, dict) else None)
        except (HTTPException, ValueError):
            await ws.send_json({"type": "error", "text": "no such session, or not your token"})
            await ws.close(code=4403)
            return
        lock = locks.setdefault(sid, asyncio.Lock())
        try:
            await ws.send_json({"type": "snapshot", "session": await snapshot(session)})
            while True:
                raw = await ws.receive()
                if raw.get("type") == "websocket.disconnect":
                    return
                if raw.get("bytes") is not None:
                    await ws.send_json(
                        {"type": "notice", "text": "Binary data is not a turn; type text."}
                    )
                    continue
                text = raw.get("text") or ""
                if len(text.encode()) > MAX_MESSAGE:
                    await ws.send_json(
                        {"type": "notice", "text": f"That message is over {MAX_MESSAGE} bytes."}
                    )
                    continue
                try:
                    msg = json.loads(text)
                except ValueError:
                    await ws.send_json(
                        {"type": "notice", "text": 'Messages are JSON: {"input": "..."}.'}
                    )
                    continue
                if not isinstance(msg, dict):
                    await ws.send_json(
                        {"type": "notice", "text": 'Messages are JSON objects: {"input": "..."}.'}
                    )
                    continue
                if lock.locked():
                    await ws.send_json(
                        {"type": "notice", "text": "The actors are still playing; wait a moment."}
                    )
                    continue
                async with lock:
                    await _advance(ws, session, msg.get("input") if "input" in msg else None)
        except WebSocketDisconnect:
            return

    async def _advance(ws: Any, session: DramaSession, answer: Any) -> None:
        """Play until the player's turn or the end, streaming each entry.

        A page closed mid-run does not stop the run: it finishes (so the play
        is never left suspended half-way in a dangling generator), then the
        disconnect is raised.
        """
        gone = False

        async def send(msg: dict[str, Any]) -> None:
            nonlocal gone
            if not gone:
                try:
                    await ws.send_json(msg)
                except (WebSocketDisconnect, RuntimeError):  # RuntimeError: sent after the close
                    gone = True

        await send({"type": "busy"})
        try:
            # replay=False: the page drew the whole checkpoint from the snapshot it got on connecting,
            # so the turns a kill -9 cut off before they streamed are on it already.
            async for entry in session.advance(answer, replay=False):
                if entry.get("kind") == "waiting":
                    continue
                if entry.get("kind") == "notice":
                    await send({"type": "notice", "text": entry["text"]})
                    continue
                shown = _page_entry(entry, session.meta.player)
                if shown is not None:
                    await send({"type": "entry", "entry": shown})
        except DramaturgError as exc:
            await send({"type": "error", "text": str(exc)})
        if gone:
            raise WebSocketDisconnect(code=1001)
        state = await session.state()
        await ws.send_json(
            {
                "type": "waiting" if state["waiting"] else ("ended" if state["ended"] else "idle"),
                "prompt": state["waiting"],
                "session": await snapshot(session),
            }
        )

    return app


# What the page gets of each kind of entry, and nothing else: a character's thought and
# intent, the raw command, the script lines, the model's rejected lines and timings stay here.
_PAGE_FIELDS = {
    "scene": frozenset({"kind", "scene", "title", "place", "step"}),
    "scene_end": frozenset({"kind", "scene", "step", "beats", "beats_done"}),
    "end": frozenset({"kind", "step", "public", "beats"}),
    "turn": frozenset(
        {
            "kind",
            "actor",
            "by",
            "action",
            "line",
            "to",
            "input",
            "step",
            "scene",
            "beat",
            "public",
            "events",
        }
    ),
}
_EVENT_FIELDS = frozenset({"kind", "text", "witnesses"})


def _public_states(states: dict[str, Any]) -> dict[str, Any]:
    """A prop's states without the hidden ones (a leading underscore: a poisoned cup looks like any cup)."""
    return {k: v for k, v in states.items() if not k.startswith("_")}


def _page_entry(entry: dict[str, Any], player: str | None) -> dict[str, Any] | None:
    """What the page may show of a transcript entry, or ``None`` when the player saw none of it.

    A player sees what their character witnessed: their own turns whole,
    another character's turn only for its events they witnessed. When they
    witnessed part of a turn (a toast, then a poisoning no one saw), the
    entry is told from that part alone. A spectator (no player) sees every
    event, as an audience does. Either way, private fields never leave.
    """
    kind = entry.get("kind")
    fields = _PAGE_FIELDS.get(kind, frozenset({"kind"}))
    out = {k: v for k, v in entry.items() if k in fields}
    if "events" in out:
        out["events"] = [{k: v for k, v in e.items() if k in _EVENT_FIELDS} for e in out["events"]]
    if kind != "turn" or player is None or entry.get("actor") == player:
        return out
    events = out.get("events") or []
    seen = [e for e in events if player in e.get("witnesses", ())]
    if not seen:
        return None
    if len(seen) < len(events):
        out = {
            k: v for k, v in out.items() if k in {"kind", "actor", "by", "step", "scene", "beat"}
        }
        out.update(events=seen, public=" ".join(e["text"] for e in seen))
    return out
