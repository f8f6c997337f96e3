"""The dashboard's server side, in-process: page shells, login by token and by one-time code, sessions and
their CSRF rule on the API, logout, security headers, static files; and the sessions store on a fake clock."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from yarl import URL

from krtasks.web.ui import routes as ui_routes
from krtasks.web.ui import sessions
from krtasks.web.ui.headers import CONTENT_SECURITY_POLICY
from krtasks.web.ui.sessions import SESSION_COOKIE, SessionStore
from unit.fakes import FakeClock, FakeEngines
from unit.http import AUTH, TOKEN, open_client, problem

UI = Path(ui_routes.__file__).parent
PAGES = ["/ui/", "/ui/tasks", "/ui/task?id=x", "/ui/new"]


@pytest.fixture
async def client(engines: FakeEngines, clock: FakeClock) -> AsyncIterator[TestClient[Any, Any]]:
    async with open_client(engines, clock) as c:
        yield c


@pytest.fixture
async def demo(engines: FakeEngines, clock: FakeClock) -> AsyncIterator[TestClient[Any, Any]]:
    async with open_client(engines, clock, token=None) as c:
        yield c


@pytest.fixture(autouse=True)
def short_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ui_routes, "LOGIN_FAILURE_DELAY", 0.3)


def session_cookie(r: ClientResponse) -> tuple[str, str]:
    """The session cookie's value and its whole Set-Cookie line."""
    line = next(v for k, v in r.headers.items() if k.lower() == "set-cookie" and SESSION_COOKIE in v)
    cookie: SimpleCookie = SimpleCookie()
    cookie.load(line)
    return cookie[SESSION_COOKIE].value, line


async def log_in(client: TestClient[Any, Any]) -> tuple[dict[str, str], str]:
    """Log in with the token: the Cookie header to send and the page's CSRF token."""
    r = await client.post("/ui/login", data={"token": TOKEN, "next": "/ui/tasks"}, allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/ui/tasks"
    value, _line = session_cookie(r)
    cookie = {"Cookie": f"{SESSION_COOKIE}={value}"}
    page = await client.get("/ui/tasks", headers=cookie)
    match = re.search(r'<meta name="krtasks-csrf" content="([^"]+)">', await page.text())
    assert match
    return cookie, match.group(1)


def assert_ui_headers(r: ClientResponse) -> None:
    assert r.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY and "script-src 'self'" in CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "no-referrer"


# --------------------------------------------------------------------------------------------------- pages


@pytest.mark.parametrize("path", PAGES)
async def test_pages_need_a_session_under_token_auth(client: TestClient[Any, Any], path: str) -> None:
    r = await client.get(path, allow_redirects=False)
    assert r.status == 303
    assert r.headers["Location"].startswith("/ui/login?next=")
    assert_ui_headers(r)


@pytest.mark.parametrize("path", PAGES)
async def test_pages_open_directly_without_auth(demo: TestClient[Any, Any], path: str) -> None:
    r = await demo.get(path)
    assert r.status == 200 and r.content_type == "text/html"
    assert_ui_headers(r)
    assert r.headers["Cache-Control"] == "no-store"
    text = await r.text()
    assert '<meta name="krtasks-auth" content="none">' in text and "Log out" not in text
    assert (await demo.get("/ui/login", allow_redirects=False)).headers["Location"] == "/ui/"


async def test_a_wrong_token_waits_then_says_so(client: TestClient[Any, Any]) -> None:
    began = time.monotonic()
    login = asyncio.ensure_future(client.post("/ui/login", data={"token": "nope", "next": "/ui/new"}))
    await asyncio.sleep(0.05)
    other = time.monotonic()
    assert (await client.get("/api/v1/health")).status == 200  # the delay holds up nobody else
    assert time.monotonic() - other < 0.2
    r = await login
    assert r.status == 401 and time.monotonic() - began >= 0.3
    text = await r.text()
    assert "not valid for this daemon" in text and 'name="next" value="/ui/new"' in text
    assert not any(SESSION_COOKIE in v for k, v in r.headers.items() if k.lower() == "set-cookie")
    assert_ui_headers(r)


async def test_login_gives_a_strict_session_cookie_and_a_csrf_token(client: TestClient[Any, Any]) -> None:
    r = await client.post("/ui/login", data={"token": TOKEN}, allow_redirects=False)
    value, line = session_cookie(r)
    attributes = {a.strip().lower() for a in line.split(";")[1:]}
    assert {"httponly", "secure", "samesite=strict", "path=/"} <= attributes
    assert not any(a.startswith(("domain", "max-age", "expires")) for a in attributes)  # ends with the browser
    assert len(value) >= 43
    cookie, csrf = await log_in(client)
    assert len(csrf) >= 43 and csrf not in value
    r = await client.get("/ui/login", headers=cookie, allow_redirects=False)  # logged in already
    assert r.status == 303 and r.headers["Location"] == "/ui/"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/ui", "/api/v1/tasks", "/ui\\@evil"])
async def test_login_goes_back_only_to_dashboard_pages(client: TestClient[Any, Any], target: str) -> None:
    r = await client.post("/ui/login", data={"token": TOKEN, "next": target}, allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/ui/"


# ------------------------------------------------------------------------------------------ the API with a session


async def test_the_api_takes_a_session_and_wants_its_csrf_token_on_changes(client: TestClient[Any, Any]) -> None:
    cookie, csrf = await log_in(client)
    assert (await client.get("/api/v1/tasks", headers=cookie)).status == 200
    assert (await client.get("/metrics", headers=cookie)).status == 200
    body = await problem(await client.post("/api/v1/tasks", json={"Code": "1"}, headers=cookie), 403)
    assert "X-CSRF-Token" in body["detail"] and body["type"].endswith("csrf-token")
    wrong = {**cookie, "X-CSRF-Token": csrf[:-1] + "x"}
    await problem(await client.post("/api/v1/tasks", json={"Code": "1"}, headers=wrong), 403)
    good = {**cookie, "X-CSRF-Token": csrf}
    r = await client.post("/api/v1/tasks", json={"Code": "1"}, headers=good)
    assert r.status == 201
    task = (await r.json())["Id"]
    await problem(await client.delete(f"/api/v1/tasks/{task}", headers=cookie), 403)
    await problem(await client.patch(f"/api/v1/tasks/{task}", json={"Name": "n"}, headers=cookie), 403)
    assert (await client.delete(f"/api/v1/tasks/{task}", headers=good)).status == 204
    # A wrong bearer token is not rescued by a cookie; a forged cookie is no session.
    await problem(await client.get("/api/v1/tasks", headers={**cookie, "Authorization": "Bearer nope"}), 401)
    body = await problem(await client.get("/api/v1/tasks", headers={"Cookie": f"{SESSION_COOKIE}=forged"}), 401)
    assert "log in again" in body["detail"]


async def test_logout_needs_the_csrf_token_and_ends_the_session(client: TestClient[Any, Any]) -> None:
    cookie, csrf = await log_in(client)
    r = await client.post("/ui/logout", data={}, headers=cookie, allow_redirects=False)
    assert r.status == 403
    r = await client.post("/ui/logout", data={"csrf": csrf}, headers=cookie, allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/ui/login?loggedout=1"
    _value, line = session_cookie(r)
    assert "max-age=0" in line.lower() and "secure" in line.lower()
    await problem(await client.get("/api/v1/tasks", headers=cookie), 401)
    assert (await client.get("/ui/", headers=cookie, allow_redirects=False)).status == 303
    assert "You have logged out." in await (await client.get("/ui/login?loggedout=1")).text()


async def test_a_one_time_code_opens_one_session(client: TestClient[Any, Any]) -> None:
    await problem(await client.post("/api/v1/ui/login-codes"), 401)
    r = await client.post("/api/v1/ui/login-codes", headers=AUTH)
    assert r.status == 201
    answer = await r.json()
    assert answer["Url"] == f"/ui/login?code={answer['Code']}" and answer["ExpiresInSeconds"] == 60
    r = await client.get(answer["Url"] + "&next=/ui/new", allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/ui/new"
    value, _line = session_cookie(r)
    assert (await client.get("/api/v1/tasks", headers={"Cookie": f"{SESSION_COOKIE}={value}"})).status == 200
    began = time.monotonic()
    again = await client.get(answer["Url"], allow_redirects=False)
    assert again.status == 401 and time.monotonic() - began >= 0.3
    assert "works once, for 60 seconds" in await again.text()
    assert (await client.get("/ui/login?code=made-up", allow_redirects=False)).status == 401


# --------------------------------------------------------------------------------------------------- files and headers


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("css/app.css", "text/css"),
        ("js/tasks.js", "javascript"),
        ("vendor/uplot-1.6.32/uPlot.iife.min.js", "javascript"),
        ("vendor/uplot-1.6.32/LICENSE", ""),
        ("favicon.svg", "image/svg+xml"),
    ],
)
async def test_static_files_are_served_with_the_headers(client: TestClient[Any, Any], path: str, kind: str) -> None:
    r = await client.get(ui_routes.STATIC_PREFIX + path)
    assert r.status == 200 and kind in r.headers["Content-Type"]
    assert r.headers["Cache-Control"] == "public, max-age=31536000, immutable"  # the prefix names the content
    assert_ui_headers(r)


async def test_errors_under_ui_carry_the_headers_and_the_icon_needs_no_token(client: TestClient[Any, Any]) -> None:
    r = await client.get(ui_routes.STATIC_PREFIX + "nothing.js")
    assert r.status == 404
    assert_ui_headers(r)
    escape = URL(ui_routes.STATIC_PREFIX + "%2E%2E/routes.py", encoded=True)  # no way out of the static folder
    assert (await client.get(escape)).status in (403, 404)
    r = await client.get("/favicon.ico", allow_redirects=False)
    assert r.status == 307 and r.headers["Location"] == ui_routes.STATIC_PREFIX + "favicon.svg"
    r = await client.get("/ui", allow_redirects=False)
    assert r.status == 308 and r.headers["Location"] == "/ui/"
    assert_ui_headers(r)


async def test_pages_name_the_static_files_by_their_content(demo: TestClient[Any, Any]) -> None:
    text = await (await demo.get("/ui/tasks")).text()
    assert re.fullmatch(r"/ui/static/[0-9a-f]{12}/", ui_routes.STATIC_PREFIX)
    assert f'src="{ui_routes.STATIC_PREFIX}js/tasks.js"' in text and '"/ui/static/js' not in text
    assert (await demo.get("/ui/static/js/tasks.js")).status == 404  # only under the prefix


def test_no_inline_script_style_or_html_from_data() -> None:
    """The CSP forbids inline script and style; the scripts build elements and set text, never HTML."""
    for template in (UI / "templates").glob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), template.name
        assert not re.search(r"<style|\sstyle=|\son[a-z]+=", text, re.IGNORECASE), template.name
    scripts = list((UI / "static" / "js").glob("*.js"))
    assert len(scripts) >= 8
    for script in scripts:
        text = script.read_text()
        for forbidden in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
            assert forbidden not in text, (script.name, forbidden)
        assert "setAttribute('style'" not in text and ".style." not in text, script.name


# --------------------------------------------------------------------------------------------------- the store


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_codes_expire_and_work_once() -> None:
    ticks = Ticks()
    store = SessionStore(ticks)
    code = store.issue_code()
    assert store.redeem(code) and not store.redeem(code)
    late = store.issue_code()
    ticks.now += sessions.CODE_SECONDS + 0.1
    assert not store.redeem(late) and not store.redeem("") and not store.redeem(None)


def test_sessions_end_when_idle_and_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    ticks = Ticks()
    store = SessionStore(ticks)
    session_id, session = store.open()
    ticks.now += sessions.SESSION_IDLE_SECONDS - 1
    assert store.find(session_id) is session  # used: its idle time starts again
    ticks.now += sessions.SESSION_IDLE_SECONDS - 1
    assert store.find(session_id) is session
    ticks.now += sessions.SESSION_IDLE_SECONDS + 1
    assert store.find(session_id) is None and len(store) == 0
    monkeypatch.setattr(sessions, "MAX_SESSIONS", 3)
    opened = [store.open()[0] for _ in range(5)]
    assert len(store) == 3 and store.find(opened[0]) is None and store.find(opened[-1]) is not None
    store.end(opened[-1])
    assert store.find(opened[-1]) is None
