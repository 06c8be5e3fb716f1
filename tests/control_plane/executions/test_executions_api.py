"""The executions API over executions a real pump ran: list (filter, keyset pages), timeline,
retry, tenancy, and the flow's execution summary."""

from __future__ import annotations

import asyncio

from control_plane.settings import Settings
from tests.control_plane.accounts.accounts_helpers import sign_up
from tests.control_plane.triggers.triggers_helpers import (
    app_settings,
    make_flow,
    running_app,
    two_path_yaml,
    wait_for_statuses,
)


async def test_list_filter_pages_timeline_retry_and_tenancy(settings: Settings) -> None:
    async with running_app(app_settings(settings)) as (app, client):
        flow = await make_flow(client, two_path_yaml())
        headers = flow.account.headers
        accepted = [
            (await client.post(flow.webhook_url, json={"n": n})).json()["execution_id"]
            for n in range(5)
        ]
        broken = await client.post(flow.webhook_url + "?trigger=broken", json={"n": 99})
        failed_id = broken.json()["execution_id"]
        await wait_for_statuses(app, flow.flow_id, {"succeeded": 5, "failed": 1})

        listing = await client.get(f"/api/flows/{flow.flow_id}/executions", headers=headers)
        assert listing.status_code == 200
        ids = [item["id"] for item in listing.json()["items"]]
        assert ids[0] == failed_id and set(ids) == {*accepted, failed_id}
        assert listing.json()["next_cursor"] is None

        pages: list[str] = []
        cursor: str | None = None
        while True:
            params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = (
                await client.get(
                    f"/api/flows/{flow.flow_id}/executions", params=params, headers=headers
                )
            ).json()
            pages += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert pages == ids

        only_failed = await client.get(
            f"/api/flows/{flow.flow_id}/executions?status=failed", headers=headers
        )
        [failed] = only_failed.json()["items"]
        assert failed["id"] == failed_id and failed["reason"] and failed["error"]
        bad_status = await client.get(
            f"/api/flows/{flow.flow_id}/executions?status=done", headers=headers
        )
        bad_cursor = await client.get(
            f"/api/flows/{flow.flow_id}/executions?cursor=nonsense", headers=headers
        )
        assert bad_status.status_code == 422 and "status" in bad_status.json()["detail"]
        assert bad_cursor.status_code == 422 and "cursor" in bad_cursor.json()["detail"]

        detail = (await client.get(f"/api/executions/{failed_id}", headers=headers)).json()
        assert detail["status"] == "failed" and detail["input"] == {"n": 99}
        assert [(s["listener"], s["status"]) for s in detail["steps"]] == [("call", "failed")]

        retried = await client.post(f"/api/executions/{accepted[0]}/retry", headers=headers)
        assert retried.status_code == 202, retried.text
        retry_id = retried.json()["execution_id"]
        await wait_for_statuses(app, flow.flow_id, {"succeeded": 6, "failed": 1})
        retry = (await client.get(f"/api/executions/{retry_id}", headers=headers)).json()
        assert retry["retry_of"] == accepted[0] and retry["trigger_kind"] == "retry"
        assert retry["input"] == {"n": 0} and retry["outputs"] == [{"n": 0, "seen": True}]

        shown = (await client.get(f"/api/flows/{flow.flow_id}", headers=headers)).json()
        assert shown["executions_this_month"] == 7
        assert shown["last_execution"]["id"] == retry_id

        stranger = (await sign_up(client)).headers
        for response in await asyncio.gather(
            client.get(f"/api/flows/{flow.flow_id}/executions", headers=stranger),
            client.get(f"/api/executions/{failed_id}", headers=stranger),
            client.post(f"/api/executions/{failed_id}/retry", headers=stranger),
        ):
            assert response.status_code == 404, response.text

        stopped = await client.post(f"/api/flows/{flow.flow_id}/stop", headers=headers)
        assert stopped.status_code == 200, stopped.text
        refused = await client.post(f"/api/executions/{failed_id}/retry", headers=headers)
        assert refused.status_code == 409 and "stopped" in refused.json()["detail"]
        await wait_for_statuses(app, flow.flow_id, {"succeeded": 6, "failed": 1})
