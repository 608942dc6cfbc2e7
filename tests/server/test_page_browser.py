"""The page in Debian's Chromium against the real server: make a play, play turns, reload, go on."""

from __future__ import annotations

import json

import pytest

from dramaturg.worlds.web._drivers import CHROMIUM_ARGS, find_chromium
from tests._browser import chromium_path

from ._serve import Server

pytestmark = [
    pytest.mark.browser,
    pytest.mark.server,
    pytest.mark.skipif(
        chromium_path() is None, reason="needs Debian's chromium (apt-get install chromium)"
    ),
]
sync_api = pytest.importorskip("playwright.sync_api")
pytest.importorskip("uvicorn")

LINES = ["Who is there?", "Nay, answer me.", "Long live the king!", "Get thee to a nunnery."]


@pytest.fixture
def server(tmp_path):
    with Server(tmp_path / "home") as s:
        yield s


@pytest.fixture
def page():
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=find_chromium(), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser.new_page()
        finally:
            browser.close()


def my_turn(page) -> None:
    """Wait for the player's turn: the input is enabled again."""
    page.wait_for_selector("#input:enabled", timeout=15_000)


def play(page, line: str) -> float:
    """Type a line and submit it; returns ms from the submit to the first streamed entry."""
    page.fill("#input", f'"{line}"')
    page.press("#input", "Enter")
    # The player's own line is in the transcript and the input is enabled again: the agents are done.
    page.wait_for_function(
        """line => !document.getElementById("input").disabled &&
                   [...document.querySelectorAll("#transcript .turn.player")].some(d => d.textContent.includes(line))""",
        arg=line,
        timeout=15_000,
    )
    return page.evaluate("window.__firstEntryAt - window.__submittedAt")


def player_lines(page) -> list[str]:
    return page.locator("#transcript .turn.player").all_text_contents()


def test_play_reload_and_go_on_in_the_browser(server, page):
    # The bundled stage is one scene that closes after 12 steps: with four characters taking turns
    # Hamlet gets three. The form's request asks for a longer scene so there is a fourth.
    def longer_scene(route):
        body = json.loads(route.request.post_data or "{}")
        route.continue_(post_data=json.dumps({**body, "max_scene_steps": 40}))

    page.route("**/api/sessions", longer_scene)
    page.goto(server.url + "/")
    assert page.is_visible("#start") and not page.is_visible("#session")
    page.fill("#player", "hamlet")
    page.click("#create-btn")
    page.wait_for_function("location.hash.includes(':')")
    sid, token = page.evaluate("location.hash.slice(1)").split(":", 1)
    my_turn(page)
    assert "you are Hamlet" in page.text_content("#title")
    assert page.text_content("#status") == "your turn"

    timings = [play(page, line) for line in LINES[:3]]
    assert player_lines(page) == [f'Hamlet says: "{line}"' for line in LINES[:3]]
    shown = page.locator("#transcript > div").all_text_contents()

    # A refused turn: one notice, nothing played, still the player's turn.
    page.fill("#input", "   ")
    page.press("#input", "Enter")
    page.wait_for_selector("#transcript .notice")
    my_turn(page)
    assert page.locator("#transcript .notice").count() == 1
    assert page.locator("#transcript > div:not(.notice)").all_text_contents() == shown

    page.reload()
    my_turn(page)
    assert page.evaluate("location.hash.slice(1)") == f"{sid}:{token}"
    assert page.locator("#transcript > div").all_text_contents() == shown
    timings.append(play(page, LINES[3]))
    assert player_lines(page) == [f'Hamlet says: "{line}"' for line in LINES]

    # The server agrees with the page, and no private thought ever reached it.
    status, snap = server.request("GET", f"/api/sessions/{sid}", token=token)
    assert status == 200 and [
        e["input"] for e in snap["transcript"] if e.get("by") == "player"
    ] == [f'"{line}"' for line in LINES]
    assert "thought" not in page.content()
    print(f"\nsubmit -> first streamed entry (ms): {', '.join(f'{t:.1f}' for t in timings)}")


def test_the_page_asks_for_the_server_key_and_takes_it_from_a_link(tmp_path, page):
    key = "a-server-key-for-the-page-0123"
    with Server(tmp_path / "home", key=key) as keyed:
        page.goto(keyed.url + "/")
        page.click("#create-btn")
        page.wait_for_selector("#key-row:not([hidden])")
        assert "needs its key" in page.text_content("#create-error")
        assert page.evaluate("location.hash") == ""
        page.fill("#key", key)
        page.click("#create-btn")
        page.wait_for_function("location.hash.includes(':')")
        my_turn(page)

        # A #key= link: the key is kept for the tab and taken out of the address bar.
        page.evaluate("sessionStorage.clear()")
        page.goto("about:blank")  # else only the hash changes: no new page load
        page.goto(keyed.url + "/#key=" + key)
        page.wait_for_selector("#start:not([hidden])")
        assert page.evaluate("location.href") == keyed.url + "/"
        page.click("#create-btn")
        page.wait_for_function("location.hash.includes(':')")
        my_turn(page)
        sessions = list((keyed.home / "drama").glob("*/session.json"))
        assert len(sessions) == 2
