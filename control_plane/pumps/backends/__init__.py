"""Pump backends, chosen by `settings.pump_backend`: process (default), docker, kubernetes."""

from __future__ import annotations

from control_plane.pumps.backends.base import (
    PumpBackend,
    PumpRef,
    PumpResources,
    PumpSpec,
    PumpState,
    pump_resources,
)
from control_plane.settings import Settings

__all__ = ["PumpBackend", "PumpRef", "PumpResources", "PumpSpec", "PumpState", "create_backend"]


def create_backend(settings: Settings) -> PumpBackend:
    if settings.pump_backend == "docker":
        from control_plane.pumps.backends.docker import DockerBackend

        return DockerBackend(settings)
    if settings.pump_backend == "kubernetes":
        from control_plane.pumps.backends.kubernetes import KubernetesBackend

        return KubernetesBackend(settings)
    from control_plane.pumps.backends.process import ProcessBackend

    return ProcessBackend(settings, pump_resources(settings))
