"""The `kubernetes` backend: per flow, in the configured namespace,

- a Secret holding the pump's whole environment (its Redis ACL credential, secrets, organism);
- a Deployment of one replica (Recreate) running the pump image: requests = limits, non-root,
  read-only root filesystem, no privilege escalation, all capabilities dropped, seccomp
  RuntimeDefault, no service-account token, an in-memory /tmp;
- a NetworkPolicy: no ingress at all; egress only to Redis pods, cluster DNS and public
  addresses (private, link-local and carrier-grade NAT ranges are excluded).

`pump_manifests()` is pure; the backend only sends them. Kubernetes restarts a crashed
container itself; `observe` reports a crash loop so the reconciler can count it."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

from control_plane.pumps.backends.base import OUT_OF_MEMORY, PumpRef, PumpSpec, PumpState
from control_plane.settings import Settings

PUMP_UID = 10001
APP_LABEL = "flowplane-pump"
PRIVATE_RANGES = [
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "169.254.0.0/16",
    "100.64.0.0/10",
]
CRASH_REASONS = {"CrashLoopBackOff", "Error", "OOMKilled", "CreateContainerConfigError"}


@dataclass(frozen=True)
class PumpManifests:
    secret: dict[str, Any]
    deployment: dict[str, Any]
    network_policy: dict[str, Any]


def pod_labels(ref: PumpRef) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": APP_LABEL,
        "app.kubernetes.io/managed-by": "flowplane",
        "flowplane.tenant": ref.tenant_id,
        "flowplane.flow": ref.flow_id,
    }


def selector(ref: PumpRef) -> dict[str, str]:
    return {"app.kubernetes.io/name": APP_LABEL, "flowplane.flow": ref.flow_id}


def pump_manifests(spec: PumpSpec, settings: Settings, *, started_at: str) -> PumpManifests:
    ref, resources, namespace = spec.ref, spec.resources, settings.kubernetes_namespace
    metadata = {"name": ref.name, "namespace": namespace, "labels": pod_labels(ref)}
    limits = {"cpu": f"{int(resources.cpu * 1000)}m", "memory": str(resources.memory_bytes)}
    no_privileges = {
        "runAsNonRoot": True,
        "runAsUser": PUMP_UID,
        "runAsGroup": PUMP_UID,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    container = {
        "name": "pump",
        "image": settings.pump_image,
        "imagePullPolicy": "IfNotPresent",
        "envFrom": [{"secretRef": {"name": ref.name}}],
        "resources": {"requests": dict(limits), "limits": dict(limits)},
        "securityContext": no_privileges,
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    pod_spec = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": int(settings.pump_stop_timeout_seconds),
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": PUMP_UID,
            "runAsGroup": PUMP_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": [{"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}}],
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata,
        "spec": {
            "replicas": 1,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": selector(ref)},
            "template": {
                # A new start (new credential in the Secret) always rolls out new pods.
                "metadata": {
                    "labels": pod_labels(ref),
                    "annotations": {"flowplane.dev/started-at": started_at},
                },
                "spec": pod_spec,
            },
        },
    }
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata,
        "type": "Opaque",
        "stringData": dict(spec.env),
    }
    network_policy = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata,
        "spec": {
            "podSelector": {"matchLabels": selector(ref)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [],
            "egress": [
                {
                    "to": [
                        {"podSelector": {"matchLabels": dict(settings.kubernetes_redis_pod_labels)}}
                    ],
                    "ports": [{"protocol": "TCP", "port": settings.kubernetes_redis_port}],
                },
                {
                    "to": [
                        {
                            "namespaceSelector": {},
                            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                        }
                    ],
                    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                },
                {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": list(PRIVATE_RANGES)}}]},
            ],
        },
    }
    return PumpManifests(secret=secret, deployment=deployment, network_policy=network_policy)


class KubernetesBackend:
    name = "kubernetes"

    def __init__(self, settings: Settings, api_client: k8s.ApiClient | None = None) -> None:
        self.settings = settings
        self.namespace = settings.kubernetes_namespace
        self._api_client = api_client

    @property
    def api_client(self) -> k8s.ApiClient:
        if self._api_client is None:
            configuration = k8s.Configuration()
            if self.settings.kubernetes_kubeconfig:
                k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
                    self.settings.kubernetes_kubeconfig, client_configuration=configuration
                )
            else:
                try:
                    k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
                except k8s_config.ConfigException:
                    k8s_config.load_kube_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
            self._api_client = k8s.ApiClient(configuration)
        return self._api_client

    def _apis(self) -> tuple[Any, Any, Any]:
        """Core, apps and networking APIs (manifests are sent as plain dicts, hence Any)."""
        client = self.api_client
        return k8s.CoreV1Api(client), k8s.AppsV1Api(client), k8s.NetworkingV1Api(client)

    async def start(self, spec: PumpSpec) -> None:
        """Replace whatever the flow had (deleted in the background: its old pod, if any,
        already lost its credential) with fresh objects."""
        await self.stop(spec.ref, grace_seconds=0)
        manifests = pump_manifests(spec, self.settings, started_at=f"{time.time():.6f}")
        core, apps, networking = self._apis()
        namespace = self.namespace

        def create() -> None:
            core.create_namespaced_secret(namespace, manifests.secret)
            networking.create_namespaced_network_policy(namespace, manifests.network_policy)
            apps.create_namespaced_deployment(namespace, manifests.deployment)

        await asyncio.to_thread(create)

    async def stop(self, ref: PumpRef, grace_seconds: float) -> None:
        """Delete the three objects, then wait (up to `grace_seconds`) for the pods to finish
        draining, so the credential is revoked only after the pump stopped using it."""
        core, apps, networking = self._apis()
        name, namespace = ref.name, self.namespace

        def delete() -> None:
            background = {"propagation_policy": "Background"}
            _ignore_missing(
                lambda: apps.delete_namespaced_deployment(name, namespace, **background)
            )
            _ignore_missing(lambda: core.delete_namespaced_secret(name, namespace))
            _ignore_missing(lambda: networking.delete_namespaced_network_policy(name, namespace))

        await asyncio.to_thread(delete)
        for _ in range(max(0, int(grace_seconds))):
            if not await asyncio.to_thread(self._pods, ref):
                return
            await asyncio.sleep(1.0)

    def _pods(self, ref: PumpRef) -> list[Any]:
        core, _, _ = self._apis()
        label_selector = ",".join(f"{key}={value}" for key, value in selector(ref).items())
        try:
            return list(
                core.list_namespaced_pod(self.namespace, label_selector=label_selector).items
            )
        except ApiException as error:
            if error.status == 404:
                return []
            raise

    async def observe(self, ref: PumpRef) -> PumpState:
        _, apps, _ = self._apis()

        def inspect() -> PumpState:
            try:
                deployment = apps.read_namespaced_deployment(ref.name, self.namespace)
            except ApiException as error:
                if error.status == 404:
                    return PumpState("absent")
                raise
            status = deployment.status
            extra = {
                "replicas": (status.replicas or 0) if status else 0,
                "ready_replicas": (status.ready_replicas or 0) if status else 0,
            }
            crash = _crash_of(self._pods(ref))
            if crash is not None:
                oom = "OOMKilled" in crash  # the kernel killed it for its memory limit
                return PumpState("exited", crash, extra=extra, reason=OUT_OF_MEMORY if oom else "")
            return PumpState("running", extra=extra)

        return await asyncio.to_thread(inspect)

    async def maintain(self) -> None:
        return None

    async def close(self) -> None:
        """Deployments outlive the control plane; the next one adopts them."""
        if self._api_client is not None:
            await asyncio.to_thread(self._api_client.close)

    def exits_seen(self) -> bool:
        return False  # seen by the reconciler's passes

    def health(self) -> dict[str, Any]:
        return {"ok": True, "backend": self.name, "sandbox": "pod", "namespace": self.namespace}


def _crash_of(pods: list[Any]) -> str | None:
    """A sentence when a pump container is crash-looping or terminated with an error."""
    for pod in pods:
        for status in (pod.status.container_statuses or []) if pod.status else []:
            waiting = status.state.waiting if status.state else None
            last = status.last_state.terminated if status.last_state else None
            if waiting is not None and waiting.reason in CRASH_REASONS:
                text = f"pod {pod.metadata.name}: {waiting.reason}, {status.restart_count} restarts"
                if last is not None:
                    text += (
                        f"; last exit code {last.exit_code} ({last.reason}): {last.message or ''}"
                    )
                return text.strip()
    return None


def _ignore_missing(call: Any) -> None:
    try:
        call()
    except ApiException as error:
        if error.status != 404:
            raise
