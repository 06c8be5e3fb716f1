"""infra/ stays in step with the code: the pump image's requirements, the RBAC the kubernetes
backend needs, and the settings the compose file and manifests name."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from control_plane.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
INFRA = ROOT / "infra"
# (API group, resource) -> verbs the kubernetes backend calls (backends/kubernetes.py)
BACKEND_CALLS = {
    ("apps", "deployments"): {"create", "get", "delete"},
    ("", "secrets"): {"create", "delete"},
    ("networking.k8s.io", "networkpolicies"): {"create", "delete"},
    ("", "pods"): {"list"},
}


def manifests() -> list[dict[str, Any]]:
    documents: list[dict[str, Any]] = []
    for path in sorted((INFRA / "k8s").glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        documents += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return documents


def test_the_pump_image_installs_only_pump_dependencies_from_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [
        line.strip()
        for line in (INFRA / "pump-requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert set(requirements) - {"tzdata"} <= set(project["dependencies"])
    control_plane_only = {
        "fastapi",
        "sqlalchemy",
        "asyncpg",
        "alembic",
        "kubernetes",
        "docker",
        "boto3",
    }
    assert (
        not {item.split(">")[0].split("[")[0].lower() for item in requirements} & control_plane_only
    )
    dockerfile = (INFRA / "pump.Dockerfile").read_text()
    assert (
        "COPY pump/ /app/pump/" in dockerfile
        and "control_plane" not in dockerfile.split("\nFROM")[-1]
    )
    assert "USER 10001:10001" in dockerfile
    assert 'ENTRYPOINT ["/opt/pump/bin/python", "-m", "pump"]' in dockerfile
    assert "ARG BASE_IMAGE=" in dockerfile and "--no-index" in dockerfile


def test_kustomize_applies_every_manifest_but_the_example_config() -> None:
    listed = yaml.safe_load((INFRA / "k8s" / "kustomization.yaml").read_text())["resources"]
    present = {path.name for path in (INFRA / "k8s").glob("*.yaml")}
    assert set(listed) == present - {"kustomization.yaml", "config.example.yaml"}


def test_the_control_planes_role_grants_exactly_what_the_backend_calls() -> None:
    [role] = [doc for doc in manifests() if doc["kind"] == "Role"]
    granted = {
        (group, resource): set(rule["verbs"])
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }
    assert granted == BACKEND_CALLS
    [binding] = [doc for doc in manifests() if doc["kind"] == "RoleBinding"]
    [deployment] = [
        doc
        for doc in manifests()
        if doc["kind"] == "Deployment" and "control-plane" in doc["metadata"]["name"]
    ]
    assert (
        binding["subjects"][0]["name"]
        == deployment["spec"]["template"]["spec"]["serviceAccountName"]
    )


def test_the_manifests_use_the_settings_the_code_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    [deployment] = [doc for doc in manifests() if doc["kind"] == "Deployment"]
    env = {
        item["name"]: item["value"]
        for item in deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings()  # read from the environment exactly as in the pod
    assert settings.pump_backend == "kubernetes"
    assert settings.kubernetes_redis_pod_labels == {"app.kubernetes.io/name": "redis"}
    namespaces = {
        doc["metadata"].get("namespace") for doc in manifests() if doc["kind"] != "Namespace"
    }
    assert namespaces == {settings.kubernetes_namespace}
    [redis] = [doc for doc in manifests() if doc["kind"] == "StatefulSet"]
    assert redis["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"] == "redis"


def test_the_compose_file_runs_pumps_as_sibling_containers() -> None:
    compose = yaml.safe_load((INFRA / "compose.yaml").read_text())
    control_plane = compose["services"]["control-plane"]["environment"]
    assert control_plane["FLOWPLANE_PUMP_IMAGE"] == compose["services"]["pump-image"]["image"]
    assert control_plane["FLOWPLANE_PUMP_IMAGE"] == Settings().pump_image
    assert control_plane["FLOWPLANE_DOCKER_NETWORK"] == compose["networks"]["flowplane"]["name"]
    assert control_plane["FLOWPLANE_PUMP_REDIS_URL"] == "redis://redis:6379/0"
