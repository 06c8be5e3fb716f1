"""`python -m pump` serves the flow configured by the environment (pump.keys.PumpEnv);
`python -m pump run organism.yaml --payload '{...}'` runs one execution locally;
`python -m pump invoke` runs one module invocation described on stdin (pump/wasm/trial.py)."""

from __future__ import annotations

import asyncio
import logging
import sys
import traceback
from collections.abc import Coroutine
from typing import Any


def _run_loop(main: Coroutine[Any, Any, int]) -> int:
    try:
        import uvloop
    except ImportError:  # uvloop is optional (not on every platform)
        return asyncio.run(main)
    return uvloop.run(main)


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def redact_stderr(secrets: dict[str, str]) -> None:
    from pump.templating import RedactingFormatter, Redactor

    redactor = Redactor(secrets)
    if not redactor.active:
        return
    for handler in logging.getLogger().handlers:
        handler.setFormatter(RedactingFormatter(redactor, LOG_FORMAT))

    def excepthook(kind: type[BaseException], error: BaseException, trace: Any) -> None:
        text = "".join(traceback.format_exception(kind, error, trace))
        sys.stderr.write(redactor.text(text))

    sys.excepthook = excepthook


def serve() -> int:
    from pump.organism import OrganismError
    from pump.server import Pump
    from pump.settings import PumpSettings, SettingsError

    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    try:
        settings = PumpSettings.from_env()
        redact_stderr(settings.secrets)
        pump = Pump(settings)
    except SettingsError as error:
        print(f"pump: {error}", file=sys.stderr)
        return 2
    except OrganismError as error:
        print(f"pump: FLOWPLANE_ORGANISM is not a valid organism: {error}", file=sys.stderr)
        return 2
    return _run_loop(pump.run())


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["run"]:
        from pump.local_runner import run_cli

        return _run_loop(run_cli(args[1:]))
    if args == ["invoke"]:
        from pump.wasm.trial import main as invoke

        return invoke()
    if args:
        print(
            "usage: python -m pump [run organism.yaml --payload JSON ... | invoke]", file=sys.stderr
        )
        return 2
    return serve()


if __name__ == "__main__":
    sys.exit(main())
