"""GET /metrics: Prometheus text from a per-app registry, fed by real webhook executions."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from control_plane.metrics import metrics_token
from control_plane.settings import Settings
from tests.control_plane.triggers.triggers_helpers import (
    app_settings,
    make_flow,
    running_app,
    wait_for_statuses,
)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_metrics_count_flows_executions_messages_requests_and_latency(
    settings: Settings,
) -> None:
    async with running_app(app_settings(settings)) as (app, client):
        flow = await make_flow(client)
        for number in range(3):
            response = await client.post(flow.webhook_url, json={"n": number})
            assert response.status_code == 202
        missing = await client.post(f"/api/triggers/{flow.flow_id}/webhook/wrong", json={})
        assert missing.status_code == 404
        await wait_for_statuses(app, flow.flow_id, {"succeeded": 3})

        bearer = {"Authorization": f"Bearer {metrics_token(app.state.settings)}"}
        scraped = await client.get("/metrics", headers=bearer)
        assert scraped.status_code == 200
        assert scraped.headers["content-type"].startswith("text/plain")
        values = samples(scraped.text)
        running = [
            values[("flowplane_flows_total", (("status", s),))] for s in ("starting", "running")
        ]
        assert sum(running) >= 1  # "starting" until the reconciler records the heartbeat
        assert ("flowplane_flows_total", (("status", "error"),)) in values
        assert values[("flowplane_executions_total", (("status", "queued"),))] == 3
        assert values[("flowplane_executions_total", (("status", "succeeded"),))] == 3
        assert values[("flowplane_pump_messages_total", ())] == 6  # two steps each
        webhook = "/api/triggers/{flow_id}/webhook/{token}"
        assert (
            values[("flowplane_api_requests_total", (("route", webhook), ("status", "202")))] == 3
        )
        assert (
            values[("flowplane_api_requests_total", (("route", webhook), ("status", "404")))] == 1
        )
        rotate = "/api/flows/{flow_id}/webhook/rotate"
        assert values[("flowplane_api_requests_total", (("route", rotate), ("status", "200")))] == 1
        assert values[("flowplane_trigger_to_start_seconds_count", ())] == 3
        # the flow's queue is its one per-flow series; no token and no raw path anywhere
        assert values[("flowplane_flow_queue_depth", (("flow_id", flow.flow_id),))] == 0
        assert not any(
            flow.token in name + str(labels)
            or (flow.flow_id in str(labels) and name != "flowplane_flow_queue_depth")
            for name, labels in values
        )
        assert "/metrics" not in (await client.get("/openapi.json")).text
