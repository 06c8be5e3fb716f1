"""A bounded schemathesis run against the app's own OpenAPI document: every operation, with a
logged-in session, in process (ASGI), on SQLite and Postgres. Hypothesis generates valid
(positive) and schema-violating (negative) requests from the document; the run must find no server error and no response that
disagrees with the document.

Every other request to `{flow_id}`, `{execution_id}` and `{key_id}` operations name a real
flow, execution or key of the session's workspace, so the handlers past the lookup run too
(except deletes and pump starts). Log-out and log-out-everywhere revoke the sessions they are
sent with: those two act as a second user, with a fresh session for each request. The logs
stream is read with `follow=false` (a followed stream never ends)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import response_schema_conformance

from control_plane.accounts.service import _open_session
from control_plane.app import create_app
from control_plane.settings import Settings
from tests.control_plane.accounts.accounts_helpers import PASSWORD, unique_email
from tests.control_plane.triggers.triggers_helpers import echo_yaml, mark_running

EXAMPLES_PER_OPERATION = 6
SESSION_ENDING = {("POST", "/api/auth/logout"), ("DELETE", "/api/auth/sessions")}
NOT_ON_REAL_IDS = {"DELETE"}  # and starting a pump: see `real_ids_allowed`
CHECKS = [not_a_server_error, response_schema_conformance]


@dataclass
class Run:
    app: Any
    token: str
    other: dict[str, Any]  # the second user's sign-up answer
    real_ids: dict[str, str]
    failures: list[str] = field(default_factory=list)

    def fresh_session(self) -> str:
        """A new session of the second user, opened without argon2 (on the app's loop)."""
        user, tenant = self.other["user"]["id"], self.other["tenant"]["id"]
        return str(asgi._get_portal().call(open_session, self.app, user, tenant))

    def request(self, method: str, path: str, token: str, **kwargs: Any) -> Any:
        with asgi.get_client(self.app) as client:
            return client.request(
                method,
                f"http://testserver{path}",
                headers={"Authorization": f"Bearer {token}"},
                **kwargs,
            )


@contextlib.contextmanager
def started(settings: Settings) -> Iterator[Any]:
    app = create_app(settings)
    try:
        yield app
    finally:
        asgi.shutdown_lifespans()


async def open_session(app: Any, user_id: str, tenant_id: str) -> str:
    async with app.state.sessionmaker() as session, session.begin():
        return await _open_session(session, user_id, tenant_id, timedelta(hours=1))


def sign_up(app: Any) -> dict[str, Any]:
    with asgi.get_client(app) as client:
        answer = client.post(
            "http://testserver/api/auth/signup",
            json={"email": unique_email("schema"), "password": PASSWORD},
        )
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def seed(app: Any) -> Run:
    """A workspace with a flow (and its webhook), one execution and an API key."""
    run = Run(app, sign_up(app)["token"], sign_up(app), {})
    created = run.request("POST", "/api/flows", run.token, json={"organism_yaml": echo_yaml()})
    flow = created.json()
    rotated = run.request("POST", f"/api/flows/{flow['id']}/webhook/rotate", run.token).json()
    asgi._get_portal().call(mark_running, app, flow["id"])  # on the app's own event loop
    webhook = rotated["url"].split("/api/", 1)[1]
    accepted = run.request("POST", f"/api/{webhook}", run.token, json={"n": 1})
    assert accepted.status_code == 202, accepted.text
    key = run.request("POST", "/api/keys", run.token, json={"name": "schema"}).json()
    run.real_ids = {
        "flow_id": flow["id"],
        "execution_id": accepted.json()["execution_id"],
        "key_id": key["id"],
        "token": rotated["token"],
    }
    return run


REQUEST_TIMEOUT_SECONDS = 60


def real_ids_allowed(method: str, path: str) -> bool:
    return method not in NOT_ON_REAL_IDS and not path.endswith("/start")


def exercise(run: Run, operation: Any) -> None:
    method, path = operation.method.upper(), operation.path

    examples = iter(range(1_000_000))

    strategy = operation.as_strategy(GenerationMode.POSITIVE)
    with contextlib.suppress(Exception):  # an operation without inputs has no negative form
        strategy = strategy | operation.as_strategy(GenerationMode.NEGATIVE)

    @given(case=strategy)
    @hypothesis_settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def one(case: Any) -> None:
        if next(examples) % 2 == 0 and real_ids_allowed(method, path) and case.path_parameters:
            for name in case.path_parameters:
                if name in run.real_ids:
                    case.path_parameters[name] = run.real_ids[name]
        if path.endswith("/logs"):
            case.query = {**(case.query or {}), "follow": "false"}  # a live stream never ends
        bearer = run.fresh_session() if (method, path) in SESSION_ENDING else run.token
        headers = {"Authorization": f"Bearer {bearer}"}
        # Stopping a flow drains its pump (up to pump_stop_timeout_seconds, 30 s) and waits for
        # the flow's lock: on a loaded machine that passed schemathesis's default 10 s.
        response = case.call(headers=headers, timeout=REQUEST_TIMEOUT_SECONDS)
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except Exception as error:  # every failure of every operation, not only the first
            run.failures.append(f"{method} {path}: {error}"[:800])
            run.failures.append(f"    {case.as_curl_command(headers=headers)}"[:600])

    one()


def test_every_operation_answers_as_documented_and_never_500(settings: Settings) -> None:
    # enterprise: no plan limit stops creating flows and modules before their handlers run
    quiet = settings.model_copy(
        update={
            "login_attempts_per_address": 1_000_000,
            "login_attempts_per_account": 1_000_000,  # generated emails repeat across runs
            "default_tier": "enterprise",
        }
    )
    with started(quiet) as app:
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        run = seed(app)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) > 40
        for operation in operations:
            exercise(run, operation)
        if run.failures:
            pytest.fail("\n".join(run.failures[:80]), pytrace=False)
