// TanStack Query hooks over the endpoints; query keys live here only.
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api } from './endpoints';
import type { Flow, FlowInput, ScheduleWhen } from './types';

export const keys = {
  me: ['me'] as const,
  apiKeys: ['api-keys'] as const,
  flows: ['flows'] as const,
  flow: (id: string) => ['flows', id] as const,
  status: (id: string) => ['flows', id, 'status'] as const,
  versions: (id: string) => ['flows', id, 'versions'] as const,
  executions: (flowId: string, status: string) => ['flows', flowId, 'executions', status] as const,
  execution: (id: string) => ['executions', id] as const,
  samples: (id: string) => ['flows', id, 'samples'] as const,
  scheduledRuns: (id: string) => ['flows', id, 'scheduled-runs'] as const,
  secrets: (id: string) => ['flows', id, 'secrets'] as const,
  starters: ['starters'] as const,
};

export function useSamples(id: string) {
  return useQuery({ queryKey: keys.samples(id), queryFn: () => api.listSamples(id) });
}

export function useSecretNames(id: string) {
  return useQuery({ queryKey: keys.secrets(id), queryFn: () => api.listSecrets(id) });
}

export function useStarters() {
  return useQuery({ queryKey: keys.starters, queryFn: api.listStarters, staleTime: Infinity });
}

export function useMe(enabled = true) {
  return useQuery({ queryKey: keys.me, queryFn: api.me, enabled, staleTime: 60_000 });
}

export function useFlows() {
  return useQuery({ queryKey: keys.flows, queryFn: api.listFlows, refetchInterval: 10_000 });
}

export function useFlow(id: string) {
  return useQuery({ queryKey: keys.flow(id), queryFn: () => api.getFlow(id), refetchOnWindowFocus: false });
}

export function useFlowVersions(id: string) {
  return useQuery({ queryKey: keys.versions(id), queryFn: () => api.listVersions(id) });
}

export function useCreateFlow() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (input: FlowInput) => api.createFlow(input),
    onSuccess: () => client.invalidateQueries({ queryKey: keys.flows, exact: true }),
  });
}

export function useUpdateFlow() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ id, input }: { id: string; input: FlowInput }) => api.updateFlow(id, input),
    onSuccess: (flow: Flow) => {
      client.setQueryData(keys.flow(flow.id), flow);
      void client.invalidateQueries({ queryKey: keys.flows, exact: true });
      void client.invalidateQueries({ queryKey: keys.versions(flow.id) });
      void client.invalidateQueries({ queryKey: keys.status(flow.id) });
    },
  });
}

export function useDeleteFlow() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (id: string) => api.deleteFlow(id),
    onSuccess: (_: void, id: string) => {
      client.removeQueries({ queryKey: keys.flow(id) });
      return client.invalidateQueries({ queryKey: keys.flows, exact: true });
    },
  });
}

export function useApiKeys() {
  return useQuery({ queryKey: keys.apiKeys, queryFn: api.listKeys });
}

export function useCreateApiKey() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ name, expiresInDays }: { name: string; expiresInDays: number | null }) =>
      api.createKey(name, expiresInDays),
    onSuccess: () => client.invalidateQueries({ queryKey: keys.apiKeys }),
  });
}

export function useRevokeApiKey() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (id: string) => api.revokeKey(id),
    onSuccess: () => client.invalidateQueries({ queryKey: keys.apiKeys }),
  });
}

/** Live runtime status: polls fast while the pump is changing state. */
export function useFlowStatus(id: string) {
  return useQuery({
    queryKey: keys.status(id),
    queryFn: () => api.flowStatus(id),
    refetchInterval: (query) => {
      const status = query.state.data?.status;
      return status === 'starting' || status === 'stopping' ? 1000 : 3000;
    },
  });
}

export function useStartStop(id: string) {
  const client = useQueryClient();
  const refresh = () => {
    void client.invalidateQueries({ queryKey: keys.status(id) });
    void client.invalidateQueries({ queryKey: keys.flows, exact: true });
  };
  const start = useMutation({ mutationFn: () => api.startFlow(id), onSettled: refresh });
  const stop = useMutation({ mutationFn: () => api.stopFlow(id), onSettled: refresh });
  return { start, stop };
}

export function useRotateWebhook(id: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: () => api.rotateWebhook(id),
    onSuccess: () => client.invalidateQueries({ queryKey: keys.flow(id) }),
  });
}

export function useInject(flowId: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ payload, trigger }: { payload: unknown; trigger?: string }) =>
      api.inject(flowId, payload, trigger),
    onSettled: () => client.invalidateQueries({ queryKey: ['flows', flowId, 'executions'] }),
  });
}

/** The flow's one-off schedules; refreshed while one is still to fire. */
export function useScheduledRuns(flowId: string) {
  return useQuery({
    queryKey: keys.scheduledRuns(flowId),
    queryFn: () => api.listScheduledRuns(flowId),
    refetchInterval: (query) =>
      query.state.data?.items.some((job) => job.status === 'pending' || job.status === 'firing') ? 2_000 : false,
  });
}

export function useScheduleRun(flowId: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ when, payload, trigger }: { when: ScheduleWhen; payload: unknown; trigger?: string }) =>
      api.scheduleRun(flowId, when, payload, trigger),
    onSettled: () => client.invalidateQueries({ queryKey: keys.scheduledRuns(flowId) }),
  });
}

export function useCancelScheduledRun(flowId: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (jobId: string) => api.cancelScheduledRun(flowId, jobId),
    onSettled: () => client.invalidateQueries({ queryKey: keys.scheduledRuns(flowId) }),
  });
}

export function useExecutions(flowId: string, status: string) {
  return useInfiniteQuery({
    queryKey: keys.executions(flowId, status),
    queryFn: ({ pageParam }) => api.listExecutions(flowId, { status: status || undefined, limit: 25, cursor: pageParam }),
    initialPageParam: null as string | null,
    getNextPageParam: (page) => page.next_cursor ?? undefined,
    refetchInterval: (query) =>
      query.state.data?.pages.some((page) => page.items.some((item) => ACTIVE.has(item.status))) ? 1500 : 5000,
  });
}

const ACTIVE = new Set(['queued', 'running', 'waiting', 'pending', 'started']);

export function useExecution(id: string | undefined) {
  return useQuery({
    queryKey: keys.execution(id ?? ''),
    queryFn: () => api.getExecution(id as string),
    enabled: Boolean(id),
    refetchInterval: (query) => (query.state.data && ACTIVE.has(query.state.data.status) ? 1000 : false),
  });
}

export function useRetryExecution(flowId: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (executionId: string) => api.retryExecution(executionId),
    onSuccess: () => client.invalidateQueries({ queryKey: ['flows', flowId, 'executions'] }),
  });
}

export type ExecutionAction =
  | { kind: 'cancel' | 'approve' }
  | { kind: 'reject'; comment?: string }
  | { kind: 'rerun'; fromStep: number };

/** Cancel, approve, reject or rerun an execution; refreshes the flow's runs and the execution. */
export function useExecutionAction(flowId: string, executionId: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (action: ExecutionAction): Promise<{ execution_id: string }> => {
      switch (action.kind) {
        case 'cancel':
          return api.cancelExecution(executionId);
        case 'approve':
          return api.approveExecution(executionId);
        case 'reject':
          return api.rejectExecution(executionId, action.comment);
        case 'rerun':
          return api.rerunExecution(executionId, action.fromStep);
      }
    },
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: ['flows', flowId, 'executions'] });
      void client.invalidateQueries({ queryKey: keys.execution(executionId) });
    },
  });
}

export function isActiveExecution(status: string): boolean {
  return ACTIVE.has(status);
}
