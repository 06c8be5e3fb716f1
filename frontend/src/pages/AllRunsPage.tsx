// /runs — executions of every flow, with filters (flow, status, trigger, time range).
import { useState } from 'react';
import { Link } from 'react-router';
import { useInfiniteQuery } from '@tanstack/react-query';
import { errorMessage } from '../api/client';
import { api } from '../api/endpoints';
import { useFlows } from '../api/queries';
import { StatusBadge } from '../components/StatusBadge';
import { formatDuration, formatRelative, formatTimestamp } from '../components/format';

export interface RunFilters {
  flow_id: string;
  status: string;
  trigger_kind: string;
  since: string;
  until: string;
}

const EMPTY: RunFilters = { flow_id: '', status: '', trigger_kind: '', since: '', until: '' };

/** `datetime-local` values are local time; the API takes ISO 8601 with a zone. */
function iso(local: string): string | undefined {
  if (!local) return undefined;
  const date = new Date(local);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

export default function AllRunsPage() {
  const flows = useFlows();
  const [filters, setFilters] = useState<RunFilters>(EMPTY);
  const names = new Map((flows.data ?? []).map((flow) => [flow.id, flow.name]));
  const runs = useInfiniteQuery({
    queryKey: ['executions', 'all', filters],
    queryFn: ({ pageParam }) =>
      api.listAllExecutions({
        flow_id: filters.flow_id || undefined,
        status: filters.status || undefined,
        trigger_kind: filters.trigger_kind || undefined,
        since: iso(filters.since),
        until: iso(filters.until),
        cursor: pageParam,
      }),
    initialPageParam: null as string | null,
    getNextPageParam: (page) => page.next_cursor,
    refetchInterval: 5000,
  });
  const set = (key: keyof RunFilters) => (value: string) => setFilters((old) => ({ ...old, [key]: value }));
  const items = runs.data?.pages.flatMap((page) => page.items) ?? [];

  return (
    <main className="page" data-testid="all-runs">
      <h1>Runs</h1>
      <form className="filters" aria-label="Filter runs" onSubmit={(event) => event.preventDefault()}>
        <label className="field">
          <span>Flow</span>
          <select value={filters.flow_id} onChange={(event) => set('flow_id')(event.target.value)} data-testid="runs-filter-flow">
            <option value="">All flows</option>
            {(flows.data ?? []).map((flow) => (
              <option key={flow.id} value={flow.id}>
                {flow.name}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          <span>Status</span>
          <select value={filters.status} onChange={(event) => set('status')(event.target.value)} data-testid="runs-filter-status">
            <option value="">Any</option>
            {['queued', 'running', 'succeeded', 'failed'].map((status) => (
              <option key={status} value={status}>
                {status}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          <span>Trigger</span>
          <select value={filters.trigger_kind} onChange={(event) => set('trigger_kind')(event.target.value)} data-testid="runs-filter-trigger">
            <option value="">Any</option>
            {['manual', 'webhook', 'schedule', 'retry'].map((kind) => (
              <option key={kind} value={kind}>
                {kind}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          <span>From</span>
          <input type="datetime-local" value={filters.since} onChange={(event) => set('since')(event.target.value)} data-testid="runs-filter-since" />
        </label>
        <label className="field">
          <span>To</span>
          <input type="datetime-local" value={filters.until} onChange={(event) => set('until')(event.target.value)} data-testid="runs-filter-until" />
        </label>
        <button type="button" className="button button-small" onClick={() => setFilters(EMPTY)}>
          Clear filters
        </button>
      </form>
      {runs.isError ? (
        <p className="form-error" role="alert">
          {errorMessage(runs.error)}
        </p>
      ) : null}
      {runs.isPending ? <p className="muted">Loading…</p> : null}
      {!runs.isPending && !items.length ? (
        <p className="muted" data-testid="runs-empty">
          No runs match.
        </p>
      ) : null}
      {items.length ? (
        <table className="table" data-testid="runs-table">
          <thead>
            <tr>
              <th scope="col">Flow</th>
              <th scope="col">Status</th>
              <th scope="col">Trigger</th>
              <th scope="col">Started</th>
              <th scope="col">Duration</th>
              <th scope="col">Run</th>
            </tr>
          </thead>
          <tbody>
            {items.map((run) => (
              <tr key={run.id} data-testid={`run-row-${run.id}`}>
                <td>{names.get(run.flow_id) ?? run.flow_id.slice(0, 8)}</td>
                <td>
                  <StatusBadge status={run.status} />
                </td>
                <td>
                  {run.trigger} <span className="muted">({run.trigger_kind})</span>
                </td>
                <td title={formatTimestamp(run.created_at)}>{formatRelative(run.created_at)}</td>
                <td>{formatDuration(run.duration_ms ?? null)}</td>
                <td>
                  <Link to={`/flow/${run.flow_id}/runs/${run.id}`}>{run.id.slice(0, 8)}</Link>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {runs.hasNextPage ? (
        <button type="button" className="button" onClick={() => void runs.fetchNextPage()} disabled={runs.isFetchingNextPage}>
          {runs.isFetchingNextPage ? 'Loading…' : 'Older runs'}
        </button>
      ) : null}
    </main>
  );
}
