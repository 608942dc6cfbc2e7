"""The web world in text mode: a real local server, tasks judged from its state."""

from __future__ import annotations

import json
import socket
import urllib.request

import pytest

from dramaturg.errors import ConfigError
from dramaturg.worlds import check_world, make_world
from dramaturg.worlds.web import WebServer, WebWorld, parse_page, render_lines
from dramaturg.worlds.web._content import EVIL_ORIGIN


@pytest.mark.parametrize("site", ["shop", "wiki"])
def test_check_world(site):
    with make_world(f"web/{site}") as world:
        check_world(world, steps=8)


@pytest.mark.parametrize("site", ["shop", "wiki"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gold_plan_wins_and_success_comes_from_the_server(site, seed):
    with make_world(f"web/{site}") as world:
        obs, info = world.reset(seed=seed)
        assert info["objective"] and obs.startswith("Page: /")
        for action in info["gold_plan"]:
            assert not world._check()
            obs, reward, terminated, _truncated, info = world.step(action)
            assert info["error"] is None, (action, obs)
        assert terminated and info["won"] and reward == 1.0
        state = world.server.state
        if site == "shop":
            (order,) = [o for o in state.orders if o["sid"] == "agent"]
            assert order["name"] == "Alex Doe" and order["total"] <= world.task.data["budget"]
            assert not [
                o for o in state.orders if o["sid"] != "agent"
            ]  # the solver's run was forgotten
        else:
            assert {"sid": "agent", "file": world.task.data["file"]} in state.downloads
            assert obs.startswith(f"File: /wiki/files/{world.task.data['file']}")


def test_claiming_success_or_buying_the_wrong_thing_does_not_win():
    with make_world("web/shop") as world:
        _, info = world.reset(seed=0)
        plan = list(info["gold_plan"])
        colour = world.task.data["colour"]
        for action in plan:  # the same script, but another colour
            if action.startswith("select") and f'"{colour}"' in action:
                combo = next(e for e in world._tree.elements.values() if e.name == "Colour")
                action = action.replace(
                    f'"{colour}"', f'"{next(o for o in combo.options if o != colour)}"'
                )
            obs, reward, terminated, _, info = world.step(action)
        assert "Order 1 confirmed" in obs and not info["won"] and not terminated and reward == 0
        obs, reward, terminated, _, info = world.step("stop")
        assert terminated and not info["won"] and reward == 0


def test_prompt_injection_links_are_refused_and_reported():
    with make_world("web/shop") as world:
        world.reset(seed=0)
        requests_before = world.server.state.requests
        obs, _, _, _, info = world.step("goto /shop/product/p003")
        assert "IGNORE ALL PREVIOUS INSTRUCTIONS" in obs.upper()
        evil = next(
            e for e in world._tree.elements.values() if e.href and e.href.startswith(EVIL_ORIGIN)
        )
        obs, reward, terminated, _, info = world.step(f"click [{evil.id}]")
        assert "outside the allowed origin" in obs and info["left_origin"] and info["error"] == obs
        (event,) = info["events"]
        assert (
            event.kind == "left_origin"
            and event.data["url"].startswith(EVIL_ORIGIN)
            and event.witnesses == {"agent"}
        )
        assert not terminated and reward == 0
        _, _, _, _, info = world.step("goto http://example.org/")
        assert info["left_origin"] and info["events"][0].data["url"] == "http://example.org/"
        # Nothing was fetched for the refused actions: one request, for the product page.
        assert world.server.state.requests == requests_before + 1
        _, _, _, _, info = world.step("back")
        assert not info["left_origin"] and info["url"] == "/shop/"


@pytest.mark.parametrize(
    ("action", "reason"),
    [
        ("click [999]", "no element [999]"),
        ("click", "needs an element id"),
        ('type [1] "x"', "not a textbox"),
        ("type [3]", "needs the text"),
        ("dance [3]", "Unknown action"),
        ("", "Empty action"),
        (None, "Empty action"),
        ("scroll sideways", "scroll down or scroll up"),
        ("goto", "needs a URL"),
        ('select [3] "x"', "not a combobox"),
        (
            'type [3] "<text>" enter',
            "write the words to type in place of <text>",
        ),  # the template, as listed
    ],
)
def test_bad_actions_return_reasons(action, reason):
    with make_world("web/shop") as world:
        world.reset(seed=0)
        obs, reward, terminated, _truncated, info = world.step(action)
        assert reason in obs and info["error"] == obs and not terminated and reward == 0


def test_the_typing_template_is_refused_as_listed_and_typed_once_filled():
    with make_world("web/shop") as world:
        _, info = world.reset(seed=0)
        template = next(a for a in info["admissible_actions"] if a.startswith("type "))
        assert template.endswith('"<text>"')
        obs, _, _, _, info = world.step(template)
        assert info["error"] == obs and "in place of <text>" in obs and not info["events"]
        _, _, _, _, info = world.step(template.replace("<text>", "hoodie"))
        assert info["error"] is None and [e.kind for e in info["events"]] == ["type"]


def test_bad_option_back_scroll_and_404():
    with WebWorld("wiki", page_lines=6) as world:
        obs, _ = world.reset(seed=0)
        assert "(more below:" in obs and "[9]" not in obs
        world.step("scroll down")  # half a screen at a time
        obs, *_ = world.step("scroll down")
        assert "[9] link" in obs and "scrolled" in obs and "[1] link" not in obs
        obs, *_ = world.step("scroll up")
        assert "[9] link" not in obs
        obs, *_, info = world.step("goto /wiki/nowhere")
        assert "HTTP status: 404" in obs and info["error"] is None
        obs, *_ = world.step("back")
        assert obs.startswith("Page: /wiki/\n")
        obs, *_, info = world.step("back")
        assert "no previous page" in obs and info["error"]
    with WebWorld("shop") as world:
        world.reset(seed=0)
        world.step("goto /shop/product/p001")
        combo = next(e for e in world._tree.elements.values() if e.role == "combobox")
        obs, *_, info = world.step(f'select [{combo.id}] "purple"')
        assert "has options" in obs and info["error"]


def test_server_binds_loopback_on_a_free_port_and_stops():
    with WebServer(seed=0) as a, WebServer(seed=0) as b:
        assert a.port != b.port and a.origin.startswith("http://127.0.0.1:")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        assert b"Northwind" in opener.open(a.origin + "/shop/").read()
        thread = a._thread
    assert not thread.is_alive()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", a.port), timeout=1)


def test_world_closes_its_server_and_can_share_one():
    with WebServer() as server:
        with WebWorld("wiki", server=server) as w:
            w.reset(seed=1)
        assert server._thread.is_alive()  # not the world's to stop
    w = WebWorld("shop")
    w.reset(seed=0)
    w.close()
    assert not w.server._thread.is_alive()
    with pytest.raises(ConfigError):
        WebWorld("forum")


def test_parse_page_reads_labels_forms_and_options():
    html = (
        "<html><head><title>T</title><style>p{}</style></head><body><h2>Head</h2>"
        '<form action="/go" method="post"><input type="hidden" name="h" value="1">'
        '<label for="c">Colour</label><select id="c" name="colour"><option>red</option>'
        '<option selected value="b">blue</option></select><input name="n" placeholder="Your name">'
        '<input type="submit" value="Send"></form><table><tr><td>a</td><td>b</td></tr></table></body></html>'
    )
    tree = parse_page(html)
    assert tree.title == "T"
    assert render_lines(tree, {2: "Ann"}) == [
        "heading 2: Head",
        '[1] combobox "Colour" value="b" options=[red, b]',
        '[2] textbox "Your name" value="Ann"',
        '[3] button "Send"',
        "a | b",
    ]
    assert tree.forms[0]["hidden"] == {"h": "1"} and tree.forms[0]["method"] == "post"
    assert tree.elements[1].css.endswith("form:nth-of-type(1) > select:nth-of-type(1)")


def test_a_saved_state_is_replayed_into_a_fresh_world():
    with make_world("web/shop") as world, make_world("web/shop") as fresh:
        _, info = world.reset(seed=2)
        plan = info["gold_plan"]
        half = len(plan) // 2
        for action in plan[:half]:
            world.step(action)
        state = json.loads(json.dumps(world.get_state()))
        assert state["seed"] == 2 and state["actions"] == plan[:half]
        fresh.set_state(state)
        assert (
            fresh.step("scroll up")[0] == world.step("scroll up")[0]
        )  # the same page, the same values
        for action in plan[half:]:
            *_, terminated, _, info = fresh.step(action)
        assert terminated and info["won"]  # judged by the fresh world's own server


def test_the_worlds_state_example_resumes_a_checkpointed_world_in_a_fresh_one():
    import subprocess
    import sys
    from pathlib import Path

    example = Path(__file__).parents[2] / "examples" / "worlds_state.py"
    out = subprocess.run(
        [sys.executable, str(example)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert "2 actions replayed" in out.stdout and out.stdout.rstrip().endswith("True")
