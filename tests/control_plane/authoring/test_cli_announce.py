"""`flowplane up` says where the app answers once it is ready (issue 15, defect 11)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import uvicorn

from control_plane.cli import AnnouncingServer


async def hello(scope: dict[str, object], receive: object, send: object) -> None:
    assert scope["type"] == "http"
    await send({"type": "http.response.start", "status": 200, "headers": []})  # type: ignore[operator]
    await send({"type": "http.response.body", "body": b"ok"})  # type: ignore[operator]


async def test_the_url_is_printed_once_the_socket_answers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = uvicorn.Config(hello, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = AnnouncingServer(config)
    serving = asyncio.create_task(server.serve())
    try:
        for _ in range(1500):  # up to 30 s
            if server.started:
                break
            await asyncio.sleep(0.02)
        assert server.started, "the server did not start"
        printed = capsys.readouterr().out
        url = server.url()
        assert printed == f"Flowplane is ready at {url} (API docs: {url}/docs)\n"
        assert url.startswith("http://localhost:") and not url.endswith(":0")
        async with httpx.AsyncClient() as client:
            assert (await client.get(url.replace("localhost", "127.0.0.1"))).text == "ok"
    finally:
        server.should_exit = True
        await serving


async def test_the_api_docs_load_nothing_from_a_cdn(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert "/swagger/swagger-ui-bundle.js" in page.text and "/swagger/swagger-ui.css" in page.text
    assert "cdn." not in page.text and "https://" not in page.text.split("<body>")[0]
