"""The kubernetes backend against the kmock emulator: the objects it creates, what it reads
back, and what it deletes."""

from __future__ import annotations

from typing import Any

import kmock
from kubernetes import client as k8s

from control_plane.pumps.backends.base import PumpRef, PumpResources, PumpSpec
from control_plane.pumps.backends.kubernetes import KubernetesBackend, pump_manifests
from control_plane.settings import Settings

NAMESPACE = "flowplane-pumps"
REF = PumpRef("0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210")
NAME = "pump-0123456789ab-fedcba9876543210fedcba9876543210"
RESOURCES = PumpResources(
    memory_bytes=268435456, cpu=0.5, pids=128, open_files=512,
    address_space_bytes=0, cpu_seconds=0, user_processes=0,
)  # fmt: skip
ENV = {
    "FLOWPLANE_FLOW_ID": REF.flow_id,
    "FLOWPLANE_REDIS_URL": "redis://pump-x:secret@redis:6379/0",
}
SECRETS = kmock.resource("", "v1", "secrets")
DEPLOYMENTS = kmock.resource("apps", "v1", "deployments")
POLICIES = kmock.resource("networking.k8s.io", "v1", "networkpolicies")
PODS = kmock.resource("", "v1", "pods")
LABELS = {
    "app.kubernetes.io/name": "flowplane-pump",
    "app.kubernetes.io/managed-by": "flowplane",
    "flowplane.tenant": REF.tenant_id,
    "flowplane.flow": REF.flow_id,
}


def settings() -> Settings:
    return Settings(
        kubernetes_namespace=NAMESPACE,
        pump_image="registry.example/flowplane-pump:1.2.3",
        pump_stop_timeout_seconds=45,
        kubernetes_redis_pod_labels={"app": "redis"},
    )


def backend_for(emulator: kmock.KubernetesEmulator) -> KubernetesBackend:
    configuration = k8s.Configuration(host=str(emulator.url).rstrip("/"))
    return KubernetesBackend(settings(), api_client=k8s.ApiClient(configuration))


def stored(emulator: kmock.KubernetesEmulator, resource: kmock.resource) -> dict[str, Any]:
    obj = emulator.objects[resource, NAMESPACE, NAME]
    assert not obj.deleted
    raw: dict[str, Any] = obj.raw
    return raw


async def test_start_creates_a_secret_a_locked_down_deployment_and_a_network_policy(
    kmock: kmock.KubernetesEmulator,
) -> None:
    backend = backend_for(kmock)
    assert (await backend.observe(REF)).phase == "absent"
    await backend.start(PumpSpec(REF, ENV, RESOURCES))

    secret = stored(kmock, SECRETS)
    assert secret["metadata"] == {"name": NAME, "namespace": NAMESPACE, "labels": LABELS}
    assert secret["type"] == "Opaque"
    assert secret["stringData"] == ENV  # the credential lives only here, not in the Deployment

    deployment = stored(kmock, DEPLOYMENTS)
    assert deployment["metadata"]["labels"] == LABELS
    spec = deployment["spec"]
    assert spec["replicas"] == 1 and spec["strategy"] == {"type": "Recreate"}
    assert spec["selector"] == {
        "matchLabels": {"app.kubernetes.io/name": "flowplane-pump", "flowplane.flow": REF.flow_id}
    }
    pod = spec["template"]["spec"]
    assert spec["template"]["metadata"]["labels"] == LABELS
    assert pod["automountServiceAccountToken"] is False
    assert pod["enableServiceLinks"] is False
    assert pod["terminationGracePeriodSeconds"] == 45
    assert pod["securityContext"] == {
        "runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001,
        "seccompProfile": {"type": "RuntimeDefault"},
    }  # fmt: skip
    [container] = pod["containers"]
    assert container["image"] == "registry.example/flowplane-pump:1.2.3"
    assert container["envFrom"] == [{"secretRef": {"name": NAME}}]
    assert "env" not in container
    assert container["resources"] == {
        "requests": {"cpu": "500m", "memory": "268435456"},
        "limits": {"cpu": "500m", "memory": "268435456"},
    }
    assert container["securityContext"] == {
        "runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001,
        "readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False, "privileged": False,
        "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"},
    }  # fmt: skip
    assert container["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
    assert pod["volumes"] == [
        {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}}
    ]

    policy = stored(kmock, POLICIES)["spec"]
    assert policy["podSelector"] == spec["selector"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    assert policy["ingress"] == []
    redis_rule, dns_rule, internet_rule = policy["egress"]
    assert redis_rule == {
        "to": [{"podSelector": {"matchLabels": {"app": "redis"}}}],
        "ports": [{"protocol": "TCP", "port": 6379}],
    }
    assert {port["port"] for port in dns_rule["ports"]} == {53}
    assert internet_rule["to"][0]["ipBlock"]["cidr"] == "0.0.0.0/0"
    assert "10.0.0.0/8" in internet_rule["to"][0]["ipBlock"]["except"]
    assert "169.254.0.0/16" in internet_rule["to"][0]["ipBlock"]["except"]

    running = await backend.observe(REF)
    assert running.phase == "running"
    assert backend.health()["namespace"] == NAMESPACE


async def test_a_crash_looping_pod_is_reported_and_stop_deletes_everything(
    kmock: kmock.KubernetesEmulator,
) -> None:
    backend = backend_for(kmock)
    await backend.start(PumpSpec(REF, ENV, RESOURCES))
    kmock.objects[PODS, NAMESPACE, f"{NAME}-5d9f-abcde"] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"{NAME}-5d9f-abcde", "namespace": NAMESPACE, "labels": LABELS},
        "status": {
            "containerStatuses": [
                {
                    "name": "pump",
                    "image": "pump",
                    "imageID": "",
                    "ready": False,
                    "restartCount": 4,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    "lastState": {
                        "terminated": {"exitCode": 1, "reason": "Error", "message": "MemoryError"}
                    },
                }
            ]
        },
    }
    crashed = await backend.observe(REF)
    assert crashed.phase == "exited" and crashed.reason == ""
    assert crashed.detail == (
        f"pod {NAME}-5d9f-abcde: CrashLoopBackOff, 4 restarts; last exit code 1 (Error): MemoryError"
    )
    pod = kmock.objects[PODS, NAMESPACE, f"{NAME}-5d9f-abcde"].raw
    pod["status"]["containerStatuses"][0]["lastState"] = {
        "terminated": {"exitCode": 137, "reason": "OOMKilled"}
    }
    kmock.objects[PODS, NAMESPACE, f"{NAME}-5d9f-abcde"] = pod
    killed = await backend.observe(REF)
    assert killed.reason == "out_of_memory"  # the flow ends in error instead of crash-looping
    del kmock.objects[PODS, NAMESPACE, f"{NAME}-5d9f-abcde"]

    first_version = stored(kmock, DEPLOYMENTS)["spec"]["template"]["metadata"]["annotations"]
    await backend.start(
        PumpSpec(REF, {**ENV, "FLOWPLANE_REDIS_URL": "redis://pump-x:rotated@redis"}, RESOURCES)
    )
    assert stored(kmock, SECRETS)["stringData"]["FLOWPLANE_REDIS_URL"].endswith("rotated@redis")
    second_version = stored(kmock, DEPLOYMENTS)["spec"]["template"]["metadata"]["annotations"]
    assert first_version != second_version  # a new start always rolls out new pods

    await backend.stop(REF, grace_seconds=5)
    for resource in (SECRETS, DEPLOYMENTS, POLICIES):
        assert kmock.objects[resource, NAMESPACE, NAME].deleted
    assert (await backend.observe(REF)).phase == "absent"
    await backend.stop(REF, grace_seconds=5)  # nothing left: not an error
    await backend.close()


def test_the_manifests_are_valid_for_the_official_client_models() -> None:
    manifests = pump_manifests(PumpSpec(REF, ENV, RESOURCES), settings(), started_at="1")
    api = k8s.ApiClient()
    for body, model in (
        (manifests.secret, k8s.V1Secret),
        (manifests.deployment, k8s.V1Deployment),
        (manifests.network_policy, k8s.V1NetworkPolicy),
    ):
        # Unknown or misspelt fields would be dropped by the model and break the round trip.
        parsed = model.from_dict(body)
        assert api.sanitize_for_serialization(parsed) == body  # type: ignore[no-untyped-call]
