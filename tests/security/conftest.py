"""The security suite reuses the pump tests' fixtures: apps with real pumps and short timings."""

from tests.control_plane.pumps.conftest import (  # noqa: F401
    handed,
    pump_app,
    pump_client,
    pump_settings,
)
