"""The `flowplane` command: `up` runs the app on the embedded default, `pump` runs the pump."""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys

import uvicorn

from control_plane.data_dir import prepare_data_dir, tighten


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["pump"]:
        # The pump is a separate program (it never imports the control plane): hand over to it.
        os.execv(sys.executable, [sys.executable, "-m", "pump", *args[1:]])
    parser = build_parser()
    options = parser.parse_args(args)
    if options.command == "up":
        run_up(options.host, options.port, options.workers)
    elif options.command == "migrate":
        run_migrate()
    elif options.command == "admin" and options.admin_command == "set-plan":
        run_set_plan(options.email, options.plan)
    else:
        parser.print_help()
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flowplane", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    up = commands.add_parser("up", help="run the control plane (state under ./.flowplane/)")
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--port", type=int, default=8000)
    up.add_argument(
        "--workers", type=int, default=1, help="uvicorn workers (>1 needs REDIS_URL and Postgres)"
    )
    commands.add_parser("migrate", help="apply database migrations and exit")
    admin = commands.add_parser("admin", help="operator commands on the configured database")
    admin_commands = admin.add_subparsers(dest="admin_command")
    set_plan = admin_commands.add_parser(
        "set-plan", help="change the plan of a user's workspace (e.g. to self-hosted)"
    )
    set_plan.add_argument("email", help="the workspace owner's email")
    set_plan.add_argument("plan", help="free, paid, pro, enterprise or self-hosted")
    commands.add_parser("pump", help="run a pump: `flowplane pump run organism.yaml --payload ...`")
    return parser


def run_up(host: str, port: int, workers: int) -> None:
    from control_plane.settings import get_settings

    settings = get_settings()
    if workers > 1 and (settings.embedded_redis or not settings.database_url):
        # each worker would start its own embedded Redis and write the same SQLite file
        raise SystemExit(
            "flowplane up --workers N (N > 1) needs REDIS_URL and DATABASE_URL (Postgres): "
            "the embedded Redis and SQLite serve one worker"
        )
    if not settings.secrets_key:
        from control_plane.pumps.secrets import SecretBox

        prepare_data_dir(settings.data_dir)
        SecretBox.from_settings(settings)  # create the key file once, before workers start
    if workers > 1:
        print(f"Flowplane: starting {workers} workers on http://{host}:{port}", flush=True)
        uvicorn.run(
            "control_plane.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="warning",
            access_log=False,
        )
        return
    config = uvicorn.Config(
        "control_plane.app:create_app",
        factory=True,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
    )
    AnnouncingServer(config).run()


class AnnouncingServer(uvicorn.Server):
    """Says where the app answers once it does (start-up done, socket bound): with uvicorn's
    own logs at `warning`, `flowplane up` would otherwise print nothing at all."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and not self.should_exit:
            print(f"Flowplane is ready at {self.url()} (API docs: {self.url()}/docs)", flush=True)

    def url(self) -> str:
        bound = [sock.getsockname() for server in self.servers for sock in server.sockets]
        host, port = (bound[0][0], bound[0][1]) if bound else (self.config.host, self.config.port)
        shown = "localhost" if host in ("127.0.0.1", "::1") else host
        shown = f"[{shown}]" if ":" in shown else shown
        return f"http://{shown}:{port}"


def run_migrate() -> None:
    from control_plane.db import migrate
    from control_plane.settings import get_settings

    settings = get_settings()
    prepare_data_dir(settings.data_dir)
    asyncio.run(migrate(settings.resolved_database_url))
    tighten(settings.data_dir)


def run_set_plan(email: str, plan: str) -> None:
    from control_plane.billing.admin import set_plan_command
    from control_plane.settings import get_settings

    code, message = asyncio.run(set_plan_command(get_settings(), email, plan))
    print(message, file=sys.stderr if code else sys.stdout)
    raise SystemExit(code)


if __name__ == "__main__":
    main()
