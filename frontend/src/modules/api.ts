// The modules API (/api/modules): shapes, endpoint calls and TanStack Query hooks.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { apiRequest } from '../api/client';

const enc = encodeURIComponent;

export interface Capabilities {
  http_fetch?: { hosts: string[] };
}

export interface VersionSummary {
  version: number;
  reference: string;
  sha256: string;
  size_bytes: number;
  source_kind: 'assemblyscript' | 'wasm';
  capabilities: Capabilities;
  created_at: string;
}

export interface VersionDetail extends VersionSummary {
  source: string | null;
  exports: { name: string; kind: string; signature: string | null }[];
  imports: string[];
  build_log: string | null;
  build_ms: number | null;
  toolchain: string | null;
}

export interface ModuleSummary {
  id: string;
  name: string;
  description: string | null;
  latest_version: number;
  latest: VersionSummary | null;
  created_at: string;
  updated_at: string;
}

export interface ModuleDetail extends ModuleSummary {
  versions: VersionSummary[];
  version: VersionDetail;
  used_by: string[];
}

export interface ModuleTemplate {
  id: string;
  title: string;
  description: string;
  source: string;
  capabilities: Capabilities;
  sample_payload: unknown;
  sample_config: Record<string, unknown>;
}

export interface TestRunInput {
  version?: number;
  payload: unknown;
  config: Record<string, unknown>;
  memory: Record<string, unknown> | null;
}

export interface TestRunResult {
  version: number;
  ok: boolean;
  result: unknown;
  route: string[] | null;
  error: { reason: string; message: string } | null;
  logs: { level: string; message: string }[];
  fuel_used: number | null;
  duration_ms: number | null;
  memory: Record<string, unknown> | null;
}

export interface SdkTypes {
  toolchain: string | null;
  files: { path: string; content: string }[];
}

export interface VersionInput {
  source: string;
  capabilities: Capabilities;
}

export const modulesApi = {
  list: () => apiRequest<ModuleSummary[]>('/api/modules'),
  get: (id: string) => apiRequest<ModuleDetail>(`/api/modules/${enc(id)}`),
  create: (input: { name: string; description?: string; source: string; capabilities: Capabilities }) =>
    apiRequest<ModuleDetail>('/api/modules', { method: 'POST', body: input }),
  update: (id: string, description: string | null) =>
    apiRequest<ModuleDetail>(`/api/modules/${enc(id)}`, { method: 'PATCH', body: { description } }),
  remove: (id: string) => apiRequest<void>(`/api/modules/${enc(id)}`, { method: 'DELETE' }),
  build: (id: string, input: VersionInput) =>
    apiRequest<VersionDetail>(`/api/modules/${enc(id)}/versions`, { method: 'POST', body: input }),
  version: (id: string, version: number) =>
    apiRequest<VersionDetail>(`/api/modules/${enc(id)}/versions/${version}`),
  test: (id: string, input: TestRunInput) =>
    apiRequest<TestRunResult>(`/api/modules/${enc(id)}/test`, { method: 'POST', body: input }),
  templates: () => apiRequest<ModuleTemplate[]>('/api/modules/templates'),
  sdk: () => apiRequest<SdkTypes>('/api/modules/sdk'),
};

export const moduleKeys = {
  all: ['modules'] as const,
  one: (id: string) => ['modules', id] as const,
  version: (id: string, version: number) => ['modules', id, 'versions', version] as const,
  templates: ['module-templates'] as const,
  sdk: ['module-sdk'] as const,
};

export function useModules() {
  return useQuery({ queryKey: moduleKeys.all, queryFn: modulesApi.list });
}

export function useModule(id: string) {
  return useQuery({ queryKey: moduleKeys.one(id), queryFn: () => modulesApi.get(id), refetchOnWindowFocus: false });
}

export function useModuleVersion(id: string, version: number | null) {
  return useQuery({
    queryKey: moduleKeys.version(id, version ?? 0),
    queryFn: () => modulesApi.version(id, version ?? 0),
    enabled: version !== null,
    staleTime: Infinity, // versions never change
  });
}

export function useTemplates() {
  return useQuery({ queryKey: moduleKeys.templates, queryFn: modulesApi.templates, staleTime: Infinity });
}

export function useSdkTypes() {
  return useQuery({ queryKey: moduleKeys.sdk, queryFn: modulesApi.sdk, staleTime: Infinity });
}

export function useCreateModule() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: modulesApi.create,
    onSuccess: (module: ModuleDetail) => {
      client.setQueryData(moduleKeys.one(module.id), module);
      return client.invalidateQueries({ queryKey: moduleKeys.all, exact: true });
    },
  });
}

export function useBuildModule(id: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (input: VersionInput) => modulesApi.build(id, input),
    onSuccess: () => client.invalidateQueries({ queryKey: moduleKeys.all }),
  });
}

export function useDeleteModule() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (id: string) => modulesApi.remove(id),
    onSuccess: (_: void, id: string) => {
      client.removeQueries({ queryKey: moduleKeys.one(id) });
      return client.invalidateQueries({ queryKey: moduleKeys.all, exact: true });
    },
  });
}

/** `wasm:<name>@<version>` -> its parts, or null for anything else (tool: references, typos). */
export function parseWasmReference(reference: unknown): { name: string; version: number } | null {
  if (typeof reference !== 'string') return null;
  const match = /^wasm:([a-z0-9][a-z0-9._-]*)@(\d+)$/.exec(reference);
  return match ? { name: match[1], version: Number(match[2]) } : null;
}
