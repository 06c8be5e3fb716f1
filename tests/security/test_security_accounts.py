"""Hole 7: accounts. Each test is the attack: a flood of wrong passwords, a leaked API key
minting more keys, a stolen session outliving a password change, a framed editor, an
anonymous scrape of /metrics, a token in a URL, a world-readable data directory."""

from __future__ import annotations

import asyncio
import base64
import secrets
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis
from fastapi import FastAPI
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from sqlalchemy import func, select, update

from control_plane.accounts import credentials
from control_plane.accounts.clerk import frontend_api_host
from control_plane.accounts.models import AuthToken, User
from control_plane.accounts.throttle import LoginLimits, LoginThrottle
from control_plane.app import create_app
from control_plane.data_dir import data_dir_mode
from control_plane.db import utcnow
from control_plane.frontend import FRONTEND_DIST, mount_frontend
from control_plane.metrics import metrics_token
from control_plane.security_headers import SecurityHeadersMiddleware
from control_plane.settings import Settings
from tests.control_plane.accounts.accounts_helpers import (
    PASSWORD,
    Account,
    sessions,
    sign_up,
    unique_email,
)


def fresh_address() -> str:
    """A client address no other test (nor an earlier run on the shared Redis) has used."""
    return "10." + ".".join(str(secrets.randbelow(256)) for _ in range(3))


@asynccontextmanager
async def app_client(
    settings: Settings, address: str | None = None
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        client_from(app, address or fresh_address()) as http,
    ):
        yield app, http


def client_from(app: FastAPI, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def log_in(http: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await http.post("/api/auth/login", json={"email": email, "password": password})


def assert_throttled(response: httpx.Response, what: str) -> None:
    assert response.status_code == 429, response.text
    assert int(response.headers["retry-after"]) >= 1
    assert response.json()["error"] == "TooManyRequests"
    assert f"too many failed log-ins for this {what}" in response.json()["detail"]


async def test_failed_logins_are_throttled_per_account(settings: Settings) -> None:
    limited = settings.model_copy(update={"login_attempts_per_account": 3})
    async with app_client(limited) as (app, http):
        victim = await sign_up(http)
        bystander = await sign_up(http)
        for _ in range(3):
            assert (await log_in(http, victim.email, "wrong guess 1")).status_code == 401
        assert_throttled(await log_in(http, victim.email, "wrong guess 2"), "account")
        # from another address too, and even with the right password until the window ends
        async with client_from(app, fresh_address()) as elsewhere:
            assert_throttled(await log_in(elsewhere, victim.email.upper(), PASSWORD), "account")
        # the throttle is per account: others still log in, and the victim's sessions still work
        assert (await log_in(http, bystander.email, PASSWORD)).status_code == 200
        assert (await http.get("/api/auth/me", headers=victim.headers)).status_code == 200


async def test_failed_logins_are_throttled_per_client_address(settings: Settings) -> None:
    limited = settings.model_copy(update={"login_attempts_per_address": 4})
    async with app_client(limited, address=fresh_address()) as (app, http):
        accounts = [await sign_up(http) for _ in range(2)]
        for number in range(4):  # a spray: one wrong password each for many accounts
            answer = await log_in(http, unique_email(f"spray{number}"), "wrong guess 1")
            assert answer.status_code == 401
        assert_throttled(await log_in(http, accounts[0].email, PASSWORD), "address")
        async with client_from(app, fresh_address()) as other:
            assert (await log_in(other, accounts[0].email, PASSWORD)).status_code == 200


async def test_a_flood_of_concurrent_bad_logins_costs_only_the_allowed_hashes(
    settings: Settings,
) -> None:
    """200 concurrent wrong passwords used to run 200 argon2 hashes and stall every request:
    each attempt counts before its hash, so only the allowed number are hashed."""
    limited = settings.model_copy(update={"login_attempts_per_address": 5})
    async with app_client(limited, address=fresh_address()) as (_, http):
        answers = await asyncio.gather(
            *(log_in(http, unique_email(f"flood{n}"), "wrong guess") for n in range(40))
        )
        statuses = sorted(answer.status_code for answer in answers)
        assert statuses.count(401) == 5 and statuses.count(429) == 35, statuses
        assert set(statuses) == {401, 429}
        assert (await http.get("/health")).status_code == 200


async def test_password_hashing_runs_on_a_bounded_pool_of_its_own(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: set[str] = set()
    original = credentials._verify

    def verify(password_hash: str | None, password: str) -> bool:
        import threading

        threads.add(threading.current_thread().name)
        return original(password_hash, password)

    monkeypatch.setattr(credentials, "_verify", verify)
    account = await sign_up(client)
    assert (await log_in(client, account.email, PASSWORD)).status_code == 200
    assert threads and all(name.startswith("argon2") for name in threads), threads

    monkeypatch.setattr(credentials, "PASSWORD_HASH_QUEUE", 0)  # the pool is full
    busy = await log_in(client, account.email, PASSWORD)
    assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
    assert "too many log-ins" in busy.json()["detail"]


async def test_the_most_common_passwords_are_refused(client: httpx.AsyncClient) -> None:
    for password in ("password123", "Password1!", "qwertyuiop", "iloveyou2", "monkey12345"):
        answer = await client.post(
            "/api/auth/signup", json={"email": unique_email(), "password": password}
        )
        assert answer.status_code == 422, (password, answer.text)
        assert answer.json()["problems"][0]["path"] == "password"
        assert "most common" in answer.json()["detail"]
    accepted = await client.post(
        "/api/auth/signup", json={"email": unique_email(), "password": "lantern orbit pickle"}
    )
    assert accepted.status_code == 201


async def test_a_leaked_api_key_cannot_mint_or_list_keys(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    created = await client.post("/api/keys", json={"name": "ci"}, headers=account.headers)
    assert created.status_code == 201
    key = {"Authorization": f"Bearer {created.json()['key']}"}
    assert (await client.get("/api/flows", headers=key)).status_code == 200  # the key works
    for method, path, body in [
        ("POST", "/api/keys", {"name": "more"}),
        ("GET", "/api/keys", None),
        # a session would mint keys in turn
        ("POST", f"/api/workspaces/{account.tenant_id}/session", None),
        ("POST", "/api/invitations/any-token/accept", None),
    ]:
        refused = await client.request(method, path, json=body, headers=key)
        assert refused.status_code == 403, refused.text
        assert "needs a logged-in session" in refused.json()["detail"]
    changed = await client.post(
        "/api/auth/password",
        json={"current_password": PASSWORD, "new_password": "a brand new horse"},
        headers=key,
    )
    assert changed.status_code == 403
    listed = await client.get("/api/keys", headers=account.headers)
    assert [item["name"] for item in listed.json()] == ["ci"]


async def test_api_keys_expire(client: httpx.AsyncClient, app: FastAPI) -> None:
    account = await sign_up(client)
    created = await client.post(
        "/api/keys", json={"name": "short", "expires_in_days": 1}, headers=account.headers
    )
    assert created.status_code == 201
    expires_at = created.json()["expires_at"]
    assert expires_at is not None
    key = {"Authorization": f"Bearer {created.json()['key']}"}
    assert (await client.get("/api/flows", headers=key)).status_code == 200
    async with sessions(app)() as session, session.begin():
        await session.execute(
            update(AuthToken)
            .where(AuthToken.id == created.json()["id"])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert (await client.get("/api/flows", headers=key)).status_code == 401
    for days in (0, -1, 100_000):
        bad = await client.post(
            "/api/keys", json={"name": "x", "expires_in_days": days}, headers=account.headers
        )
        assert bad.status_code == 422 and "expires_in_days" in bad.json()["detail"]


async def second_session(client: httpx.AsyncClient, account: Account) -> dict[str, str]:
    answer = await log_in(client, account.email, PASSWORD)
    assert answer.status_code == 200
    return {"Authorization": f"Bearer {answer.json()['token']}"}


async def test_revoking_all_sessions_logs_a_stolen_session_out(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    stolen = await second_session(client, account)
    key = (await client.post("/api/keys", json={"name": "k"}, headers=account.headers)).json()
    revoked = await client.delete("/api/auth/sessions", headers=account.headers)
    assert revoked.status_code == 200 and revoked.json() == {"revoked": 2}
    assert (await client.get("/api/auth/me", headers=stolen)).status_code == 401
    assert (await client.get("/api/auth/me", headers=account.headers)).status_code == 401
    api_key = {"Authorization": f"Bearer {key['key']}"}  # keys are revoked one by one
    assert (await client.get("/api/auth/me", headers=api_key)).status_code == 200


async def test_changing_the_password_ends_every_other_session(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    stolen = await second_session(client, account)
    wrong = await client.post(
        "/api/auth/password",
        json={"current_password": "not it at all", "new_password": "a brand new horse"},
        headers=account.headers,
    )
    assert wrong.status_code == 422 and wrong.json()["problems"][0]["path"] == "current_password"
    common = await client.post(
        "/api/auth/password",
        json={"current_password": PASSWORD, "new_password": "password1"},
        headers=account.headers,
    )
    assert common.status_code == 422 and common.json()["problems"][0]["path"] == "new_password"
    changed = await client.post(
        "/api/auth/password",
        json={"current_password": PASSWORD, "new_password": "a brand new horse"},
        headers=account.headers,
    )
    assert changed.status_code == 200 and changed.json() == {"revoked": 1}
    assert (await client.get("/api/auth/me", headers=stolen)).status_code == 401
    assert (await client.get("/api/auth/me", headers=account.headers)).status_code == 200
    assert (await log_in(client, account.email, PASSWORD)).status_code == 401
    assert (await log_in(client, account.email, "a brand new horse")).status_code == 200


def assert_security_headers(response: httpx.Response) -> str:
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy
    return policy


async def test_every_html_page_carries_the_security_headers(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    # the editor's pages, served by the same code the app uses, from a build of its own
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><script src='/assets/a.js'></script>")
    (tmp_path / "assets" / "a.js").write_text("console.log(1)")
    editor = FastAPI()
    mount_frontend(editor, tmp_path)
    editor.add_middleware(SecurityHeadersMiddleware)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=editor), base_url="http://editor"
    ) as http:
        # pages, and scripts (a worker runs under the policy its script was served with)
        for path in ("/", "/flow/abc", "/flow/abc/runs", "/assets/a.js"):
            policy = assert_security_headers(await http.get(path))
            scripts = next(d for d in policy.split("; ") if d.startswith("script-src"))
            assert scripts == "script-src 'self'"  # no inline script, no eval
    # the app itself: documentation pages, API answers and errors
    for path in ("/docs", "/redoc"):
        assert "cdn.jsdelivr.net" in assert_security_headers(await client.get(path))
    for path in ("/api/auth/me", "/health", "/api/nope", "/openapi.json"):
        policy = assert_security_headers(await client.get(path))
        assert policy.startswith("default-src 'none'")


async def test_with_clerk_the_editor_policy_lets_in_only_clerks_parts(settings: Settings) -> None:
    """Clerk's browser bundle comes from the instance's Frontend API (the host in the
    publishable key): the editor's policy names that host, Clerk's bot check and images, and
    nothing else; a key that would smuggle in another directive names nothing."""
    host = "clerk.example-app.test"
    key = "pk_live_" + base64.b64encode(f"{host}$".encode()).decode()
    clerk = settings.model_copy(
        update={"clerk_issuer": "https://issuer.example", "clerk_publishable_key": key}
    )
    async with app_client(clerk) as (_, http):
        policy = assert_security_headers(await http.get("/"))
    directives = dict(d.split(" ", 1) for d in policy.split("; "))
    assert directives["script-src"] == f"'self' https://{host} https://challenges.cloudflare.com"
    assert directives["connect-src"] == f"'self' https://{host}"
    assert directives["frame-src"] == "'self' https://challenges.cloudflare.com"
    assert directives["img-src"] == "'self' data: blob: https://img.clerk.com"
    assert frontend_api_host(key) == host
    smuggled = "pk_live_" + base64.b64encode(b"x.test; script-src *$").decode()
    for bad in (smuggled, "pk_test_!!", "sk_live_abc", ""):
        assert frontend_api_host(bad) is None


def test_the_built_editor_runs_under_its_policy() -> None:
    """The editor's policy allows scripts from this origin only: the build must have no inline
    script and no eval (Monaco and its workers are bundled files)."""
    index = FRONTEND_DIST / "index.html"
    if not index.is_file():
        pytest.skip("frontend/dist is not built (make frontend)")
    html = index.read_text()
    import re

    for tag in re.findall(r"<script\b[^>]*>(.*?)</script>", html, flags=re.S):
        assert not tag.strip(), "inline script in index.html"
    bundles = [path.read_text(errors="replace") for path in (FRONTEND_DIST / "assets").glob("*.js")]
    assert bundles
    # (TypeScript's own lib text in the ts worker declares `function eval(`: not a call)
    call = re.compile(r"(?<![\w.$])(?<!function )eval\(|new Function\(")
    assert not any(call.search(text) for text in bundles)
    workers = re.findall(r'new Worker\("(/assets/[\w.-]+\.js)"', "".join(bundles))
    assert workers, "Monaco's workers are expected as bundled files of this origin"


async def test_metrics_are_not_public(settings: Settings) -> None:
    async with app_client(settings) as (app, http):
        anonymous = await http.get("/metrics")
        assert anonymous.status_code == 401
        assert "FLOWPLANE_METRICS_TOKEN" in anonymous.json()["detail"]
        assert (
            await http.get("/metrics", headers={"Authorization": "Bearer nope"})
        ).status_code == 401
        token_file = settings.data_dir / "metrics.token"
        token = metrics_token(app.state.settings)
        assert token_file.read_text().strip() == token
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        scraped = await http.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert scraped.status_code == 200 and "flowplane_flows_total" in scraped.text
    configured = settings.model_copy(update={"metrics_token": "a-configured-token"})
    async with app_client(configured) as (_, http):
        by_setting = await http.get(
            "/metrics", headers={"Authorization": "Bearer a-configured-token"}
        )
        assert by_setting.status_code == 200
        by_file = await http.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert by_file.status_code == 401


async def test_the_log_stream_never_takes_the_token_from_the_url(
    client: httpx.AsyncClient,
) -> None:
    account = await sign_up(client)
    flow = await client.post("/api/flows", json={"name": "logs"}, headers=account.headers)
    url = f"/api/flows/{flow.json()['id']}/logs"
    refused = await client.get(url, params={"token": account.token, "follow": "false"})
    assert refused.status_code == 401
    read = await client.get(url, params={"follow": "false"}, headers=account.headers)
    assert read.status_code == 200


async def test_the_data_directory_is_private(settings: Settings, redis_url: str) -> None:
    """A data directory left readable by an older version is tightened at start; the SQLite
    database, the keys and the private directories are for the control plane only."""
    if "sqlite" not in settings.database_url:
        pytest.skip("the embedded default (SQLite in the data directory) is what is checked")
    data_dir = settings.data_dir
    data_dir.mkdir(parents=True, mode=0o755)
    data_dir.chmod(0o755)
    (data_dir / "flowplane.db").touch(mode=0o644)
    (data_dir / "flowplane.db").chmod(0o644)
    embedded = settings.model_copy(update={"database_url": "", "run_migrations": True})
    async with app_client(embedded) as (app, http):
        await sign_up(http)
        metrics_token(app.state.settings)
    assert stat.S_IMODE(data_dir.stat().st_mode) == data_dir_mode()
    for name in ("flowplane.db", "metrics.token", "secrets.key"):
        assert stat.S_IMODE((data_dir / name).stat().st_mode) == 0o600, name
    for name in ("blobs", "pumps"):
        assert stat.S_IMODE((data_dir / name).stat().st_mode) == 0o700, name


async def test_credentials_in_urls_never_reach_the_logs(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """Webhook URLs, pump module downloads and invitation links carry their credential in the
    path: request logs show the path with the credential replaced."""
    verbose = settings.model_copy(update={"log_level": "DEBUG"})
    async with app_client(verbose) as (_, http):
        capsys.readouterr()
        token = "whk" + secrets.token_hex(16)
        await http.post(f"/api/triggers/someflow/webhook/{token}", json={})
        await http.get(f"/api/pump-modules/{token}/abc.wasm")
        await http.post(f"/api/invitations/{token}/accept")
        logged = capsys.readouterr().out
    assert "/webhook/***" in logged and "/pump-modules/***/abc.wasm" in logged
    assert "/invitations/***/accept" in logged
    assert token not in logged


async def test_the_throttle_lets_log_ins_through_while_redis_is_away() -> None:
    unreachable = aioredis.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0)
    )
    throttle = LoginThrottle(
        unreachable, LoginLimits(per_account=1, per_address=1, window_seconds=60)
    )
    try:
        for _ in range(2):  # past both limits of 1, were they counted
            attempt = await throttle.attempt("someone@example.com", "10.0.0.1")
            await attempt.succeeded()
    finally:
        await unreachable.aclose()


async def test_an_attempt_outliving_its_window_leaves_no_counter_behind(redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    throttle = LoginThrottle(client, LoginLimits(per_account=5, per_address=5, window_seconds=60))
    email, address = unique_email("window"), fresh_address()
    try:
        attempt = await throttle.attempt(email, address)
        assert len(attempt.keys) == 2
        assert all(ttl > 0 for ttl in [await client.ttl(key) for key in attempt.keys])
        await client.delete(*attempt.keys)  # the window ends while the password is checked
        await attempt.succeeded()
        assert await client.exists(*attempt.keys) == 0  # no -1 counter without expiry
    finally:
        await client.aclose()


async def test_sign_ups_are_throttled_per_client_address(settings: Settings) -> None:
    """Creating workspaces by script (or probing for taken emails through the 409) from one
    address stops at the allowance; refused attempts create nothing and do not count, and
    other addresses go on."""
    limited = settings.model_copy(update={"signups_per_address": 3})
    address = fresh_address()
    async with app_client(limited, address=address) as (app, http):
        taken = await sign_up(http)
        probe = await http.post(
            "/api/auth/signup", json={"email": taken.email, "password": PASSWORD}
        )
        assert probe.status_code == 409  # a failed sign-up counts too
        await sign_up(http)
        farmed = [unique_email(f"farm{number}") for number in range(3)]
        for email in farmed:
            refused = await http.post(
                "/api/auth/signup", json={"email": email, "password": PASSWORD}
            )
            assert refused.status_code == 429, refused.text
            assert "too many sign-ups from this address" in refused.json()["detail"]
            assert 3500 < int(refused.headers["retry-after"]) <= 3600
        async with client_from(app, fresh_address()) as elsewhere:
            assert (await sign_up(elsewhere)).email
        async with app.state.engine.connect() as connection:
            created = await connection.scalar(
                select(func.count()).select_from(User).where(User.email.in_(farmed))
            )
        assert created == 0
        counted = await app.state.redis.client.get(f"flowplane:auth:attempts:signup:{address}")
        assert int(counted) == 3
