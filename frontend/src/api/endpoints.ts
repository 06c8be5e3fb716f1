// One function per control plane endpoint the UI uses.
import { apiRequest } from './client';
import type {
  ApiKey,
  AuthResponse,
  CanvasJson,
  CompileResult,
  CreatedApiKey,
  CallbackSettings,
  ExecutionDetail,
  ExecutionPage,
  Flow,
  FlowInput,
  FlowRuntimeStatus,
  FlowVersion,
  InjectResult,
  Me,
  ParseResult,
  Sample,
  ScheduleWhen,
  ScheduledRun,
  Starter,
  WebhookRotation,
} from './types';

const enc = encodeURIComponent;

export const api = {
  signup: (email: string, password: string) =>
    apiRequest<AuthResponse>('/api/auth/signup', { method: 'POST', body: { email, password }, anonymous: true }),
  login: (email: string, password: string) =>
    apiRequest<AuthResponse>('/api/auth/login', { method: 'POST', body: { email, password }, anonymous: true }),
  me: () => apiRequest<Me>('/api/auth/me'),

  listKeys: () => apiRequest<ApiKey[]>('/api/keys'),
  createKey: (name: string, expiresInDays: number | null = null) =>
    apiRequest<CreatedApiKey>('/api/keys', { method: 'POST', body: { name, expires_in_days: expiresInDays } }),
  changePassword: (currentPassword: string, newPassword: string) =>
    apiRequest<{ revoked: number }>('/api/auth/password', {
      method: 'POST',
      body: { current_password: currentPassword, new_password: newPassword },
    }),
  revokeSessions: () => apiRequest<{ revoked: number }>('/api/auth/sessions', { method: 'DELETE' }),
  revokeKey: (id: string) => apiRequest<void>(`/api/keys/${enc(id)}`, { method: 'DELETE' }),

  listFlows: () => apiRequest<Flow[]>('/api/flows'),
  getFlow: (id: string) => apiRequest<Flow>(`/api/flows/${enc(id)}`),
  createFlow: (input: FlowInput) => apiRequest<Flow>('/api/flows', { method: 'POST', body: input }),
  updateFlow: (id: string, input: FlowInput) =>
    apiRequest<Flow>(`/api/flows/${enc(id)}`, { method: 'PUT', body: input }),
  deleteFlow: (id: string) => apiRequest<void>(`/api/flows/${enc(id)}`, { method: 'DELETE' }),
  listVersions: (id: string) => apiRequest<FlowVersion[]>(`/api/flows/${enc(id)}/versions`),
  getVersion: (id: string, number: number) =>
    apiRequest<FlowVersion & { organism_yaml: string; canvas_state: CanvasJson }>(
      `/api/flows/${enc(id)}/versions/${number}`,
    ),
  restoreVersion: (id: string, number: number) =>
    apiRequest<Flow>(`/api/flows/${enc(id)}/versions/${number}/restore`, { method: 'POST' }),
  exportFlow: (id: string) => apiRequest<string>(`/api/flows/${enc(id)}/export`, { text: true }),
  importFlow: (file: string, name?: string) =>
    apiRequest<Flow>('/api/flows/import', { method: 'POST', body: name ? { file, name } : { file } }),
  listStarters: () => apiRequest<Starter[]>('/api/starters'),
  listSamples: (id: string) => apiRequest<Sample[]>(`/api/flows/${enc(id)}/samples`),
  saveSample: (id: string, name: string, payload: unknown) =>
    apiRequest<Sample>(`/api/flows/${enc(id)}/samples/${enc(name)}`, { method: 'PUT', body: { payload } }),
  deleteSample: (id: string, name: string) =>
    apiRequest<void>(`/api/flows/${enc(id)}/samples/${enc(name)}`, { method: 'DELETE' }),
  listSecrets: (id: string) => apiRequest<{ names: string[]; restart_required?: boolean }>(`/api/flows/${enc(id)}/secrets`),
  updateSecrets: (id: string, values: Record<string, string | null>) =>
    apiRequest<{ names: string[]; restart_required?: boolean }>(`/api/flows/${enc(id)}/secrets`, {
      method: 'PUT',
      body: values,
    }),

  compile: (canvas: CanvasJson, name?: string, signal?: AbortSignal, description?: string | null) =>
    apiRequest<CompileResult>('/api/organism/compile', {
      method: 'POST',
      body: description ? { canvas, name, description } : { canvas, name },
      signal,
    }),
  parse: (yaml: string, canvas?: CanvasJson | null, signal?: AbortSignal) =>
    apiRequest<ParseResult>('/api/organism/parse', {
      method: 'POST',
      body: canvas ? { yaml, canvas } : { yaml },
      signal,
    }),

  evaluate: (expression: string, payload: unknown, signal?: AbortSignal, template = false) =>
    apiRequest<{ value?: unknown; error?: string | null }>('/api/organism/evaluate', {
      method: 'POST',
      body: { expression, payload, template },
      signal,
    }),

  startFlow: (id: string) => apiRequest<{ status: string }>(`/api/flows/${enc(id)}/start`, { method: 'POST' }),
  stopFlow: (id: string) => apiRequest<{ status: string }>(`/api/flows/${enc(id)}/stop`, { method: 'POST' }),
  flowStatus: (id: string) => apiRequest<FlowRuntimeStatus>(`/api/flows/${enc(id)}/status`),
  rotateWebhook: (id: string) =>
    apiRequest<WebhookRotation>(`/api/flows/${enc(id)}/webhook/rotate`, { method: 'POST' }),

  inject: (flowId: string, payload: unknown, trigger?: string) =>
    apiRequest<InjectResult>(`/api/triggers/${enc(flowId)}/inject`, {
      method: 'POST',
      query: { wait: true },
      body: trigger ? { payload, trigger } : { payload },
    }),

  scheduleRun: (flowId: string, when: ScheduleWhen, payload: unknown, trigger?: string) =>
    apiRequest<ScheduledRun>(`/api/flows/${enc(flowId)}/schedules`, {
      method: 'POST',
      body: trigger ? { ...when, payload, trigger } : { ...when, payload },
    }),
  listScheduledRuns: (flowId: string) =>
    apiRequest<{ items: ScheduledRun[] }>(`/api/flows/${enc(flowId)}/schedules`),
  cancelScheduledRun: (flowId: string, jobId: string) =>
    apiRequest<ScheduledRun>(`/api/flows/${enc(flowId)}/schedules/${enc(jobId)}`, { method: 'DELETE' }),

  listExecutions: (flowId: string, params: { status?: string; limit?: number; cursor?: string | null }) =>
    apiRequest<ExecutionPage>(`/api/flows/${enc(flowId)}/executions`, {
      query: { status: params.status, limit: params.limit, cursor: params.cursor },
    }),
  listAllExecutions: (params: {
    flow_id?: string;
    status?: string;
    trigger_kind?: string;
    since?: string;
    until?: string;
    cursor?: string | null;
  }) => apiRequest<ExecutionPage>('/api/executions', { query: { ...params, limit: 50 } }),
  getExecution: (id: string) => apiRequest<ExecutionDetail>(`/api/executions/${enc(id)}`),
  retryExecution: (id: string) =>
    apiRequest<{ execution_id: string }>(`/api/executions/${enc(id)}/retry`, { method: 'POST' }),
  getCallbackSettings: (flowId: string) =>
    apiRequest<CallbackSettings>(`/api/flows/${enc(flowId)}/callback-settings`),
  putCallbackSettings: (flowId: string, failureUrl: string | null) =>
    apiRequest<CallbackSettings>(`/api/flows/${enc(flowId)}/callback-settings`, {
      method: 'PUT',
      body: { failure_url: failureUrl },
    }),
  cancelExecution: (id: string) =>
    apiRequest<{ execution_id: string; how: string }>(`/api/executions/${enc(id)}/cancel`, { method: 'POST' }),
  approveExecution: (id: string) =>
    apiRequest<{ execution_id: string }>(`/api/executions/${enc(id)}/approve`, { method: 'POST', body: {} }),
  rejectExecution: (id: string, comment?: string) =>
    apiRequest<{ execution_id: string }>(`/api/executions/${enc(id)}/reject`, {
      method: 'POST',
      body: { comment: comment || null },
    }),
  rerunExecution: (id: string, fromStep: number) =>
    apiRequest<{ execution_id: string }>(`/api/executions/${enc(id)}/rerun`, {
      method: 'POST',
      body: { from_step: fromStep },
    }),
};

/** The SSE URL of a flow's live logs (read with fetch and the Authorization header: no token in URLs). */
export function logsUrl(flowId: string): string {
  return `/api/flows/${enc(flowId)}/logs`;
}
