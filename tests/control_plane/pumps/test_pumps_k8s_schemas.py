"""Every Kubernetes object Flowplane produces is valid against the real Kubernetes OpenAPI
schemas (`kubernetes-validate`, strict: unknown fields are errors): the per-flow objects the
kubernetes backend creates and every manifest in infra/k8s. No API server runs here; the
lifecycle is tested on kmock (test_pumps_kubernetes.py) and walked through on kind in
infra/README.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from control_plane.pumps.backends.base import PumpRef, PumpSpec, pump_resources
from control_plane.pumps.backends.kubernetes import pump_manifests
from control_plane.settings import Settings
from pump.keys import PumpEnv

INFRA_K8S = Path(__file__).resolve().parents[3] / "infra" / "k8s"
# The oldest Kubernetes release still in common support, and the newest schema the package has.
VERSIONS = ["1.29.0", kubernetes_validate.utils.latest_version()]
NOT_API_OBJECTS = {"kustomization.yaml"}  # kustomize's own file


def infra_documents() -> list[tuple[str, dict[str, Any]]]:
    documents = []
    for path in sorted(INFRA_K8S.glob("*.yaml")):
        if path.name in NOT_API_OBJECTS:
            continue
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                documents.append((f"{path.name}:{document['kind']}", document))
    return documents


def backend_objects() -> list[tuple[str, dict[str, Any]]]:
    settings = Settings(pump_cpu=0.25, pump_memory_bytes=300 * 1024 * 1024)
    ref = PumpRef("0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210")
    env = {
        PumpEnv.TENANT_ID: ref.tenant_id,
        PumpEnv.FLOW_ID: ref.flow_id,
        PumpEnv.REDIS_URL: "redis://pump-x:secret@redis:6379/0",
        PumpEnv.ORGANISM: "dmVyc2lvbjogMQ==",
        PumpEnv.CONCURRENCY: "128",
    }
    manifests = pump_manifests(
        PumpSpec(ref, env, pump_resources(settings)), settings, started_at="1764400000.000000"
    )
    return [
        ("Secret", manifests.secret),
        ("Deployment", manifests.deployment),
        ("NetworkPolicy", manifests.network_policy),
    ]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("name", "document"), backend_objects() + infra_documents())
def test_the_object_is_valid_against_the_kubernetes_schema(
    name: str, document: dict[str, Any], version: str
) -> None:
    kubernetes_validate.validate(document, version, strict=True)


def test_a_schema_violation_is_caught() -> None:
    """The check can fail: a misspelt field and a wrong type are both refused."""
    _, deployment = backend_objects()[1]
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRoot"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, VERSIONS[-1], strict=True)
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["replicas"] = "one"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, VERSIONS[-1], strict=True)
