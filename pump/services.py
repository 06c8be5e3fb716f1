"""What a flow's handlers share inside one pump: Redis, the writer, the HTTP client, project
memory and the WASM runtime (the last two are created only when the flow uses them)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from redis.asyncio import Redis

from pump.keys import FlowKeys
from pump.memory import MemoryAccess, ProjectMemory
from pump.organism.models import Organism
from pump.settings import PumpSettings
from pump.writer import RedisWriter

# aiohttp and wasmtime are imported on first use: they cost a cold pump start ~0.2 s that a
# flow of transforms never needs.
if TYPE_CHECKING:
    from pump.netguard import GuardedHttpClient, HostScope
    from pump.wasm.modules import ModuleStore

WASM_WORKER_THREADS = 4


class Services:
    def __init__(
        self, settings: PumpSettings, organism: Organism, client: Redis, writer: RedisWriter
    ) -> None:
        self.settings = settings
        self.keys = FlowKeys(settings.tenant_id, settings.flow_id)
        self.client = client
        self.writer = writer
        self.secrets = settings.secrets
        access = MemoryAccess.decide(organism.memory.project, settings.memory_quota_bytes)
        self.memory = ProjectMemory(client, self.keys, access)
        self._http: GuardedHttpClient | None = None
        self._modules: ModuleStore | None = None
        self._executor: ThreadPoolExecutor | None = None

    @property
    def http(self) -> GuardedHttpClient:
        if self._http is None:
            from pump.netguard import GuardedHttpClient

            self._http = GuardedHttpClient(
                self.settings.http_allowlist, secret_values=self.secrets.values()
            )
        return self._http

    @property
    def modules(self) -> ModuleStore:
        if self._modules is None:
            from pump.wasm.abi import WasmLimits
            from pump.wasm.modules import ModuleStore
            from pump.wasm.runtime import WasmEngine

            limits = WasmLimits(
                fuel=self.settings.wasm_fuel,
                memory_bytes=self.settings.wasm_memory_bytes,
                timeout_seconds=self.settings.wasm_timeout_seconds,
            )
            from pump.wasm.signatures import ToolVerifier

            engine = WasmEngine(limits, concurrent_instances=WASM_WORKER_THREADS)
            verifier = (
                ToolVerifier(
                    self.settings.marketplace_public_key,
                    self.settings.module_signatures,
                    self.settings.module_grants,
                    self.settings.module_hosts,
                )
                if self.settings.marketplace_public_key
                else None
            )
            self._modules = ModuleStore(
                engine, self.settings.modules, self.settings.module_source, verifier
            )
        return self._modules

    @property
    def wasm_executor(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(WASM_WORKER_THREADS, thread_name_prefix="wasm")
        return self._executor

    def grants_for(self, reference: str) -> frozenset[str]:
        from pump.wasm.modules import module_key

        return self.settings.module_grants.get(module_key(reference), frozenset())

    def hosts_for(self, reference: str) -> HostScope | None:
        """The hosts the module declared for http_fetch; None when it declared none (any)."""
        from pump.netguard import HostScope
        from pump.wasm.modules import module_key

        hosts = self.settings.module_hosts.get(module_key(reference))
        return HostScope(hosts) if hosts is not None else None

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.close()
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
        if self._modules is not None:
            self._modules.engine.close()
