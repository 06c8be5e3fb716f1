// /flow/:id/runs — the executions of a flow; /flow/:id/runs/:executionId adds the step timeline.
import { useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { errorMessage } from '../api/client';
import {
  isActiveExecution,
  useExecution,
  useExecutionAction,
  useExecutions,
  useFlow,
  useRetryExecution,
} from '../api/queries';
import type { ExecutionAction } from '../api/queries';
import type { ExecutionDetail, ExecutionStep, WaitInfo } from '../api/types';
import { JsonBlock } from '../components/JsonBlock';
import { StatusBadge } from '../components/StatusBadge';
import { formatDuration, formatRelative, formatTimestamp, isEmptyValue } from '../components/format';

const STATUS_FILTERS: Array<[string, string]> = [
  ['', 'All'],
  ['queued', 'Queued'],
  ['running', 'Running'],
  ['waiting', 'Waiting'],
  ['succeeded', 'Succeeded'],
  ['failed', 'Failed'],
  ['cancelled', 'Cancelled'],
];

const CANCELLABLE = new Set(['queued', 'running', 'waiting']);

/** What a waiting execution waits for, in a few words. */
export function describeWait(wait: WaitInfo): string {
  if (wait.kind === 'approval') return `approval${wait.message ? `: ${wait.message}` : ''}`;
  if (wait.kind === 'event') return `event ${wait.topic ?? ''} (${wait.correlation_id ?? ''})`;
  if (wait.kind === 'timer') return wait.fire_at ? `timer until ${formatTimestamp(wait.fire_at)}` : 'timer';
  return wait.kind;
}

/** Cancel, and Approve / Reject when the execution waits for a decision. */
function ExecutionActions({ execution, flowId }: { execution: ExecutionDetail; flowId: string }) {
  const action = useExecutionAction(flowId, execution.id);
  const [error, setError] = useState<string | null>(null);
  const run = async (what: ExecutionAction) => {
    setError(null);
    try {
      await action.mutateAsync(what);
    } catch (failure) {
      setError(errorMessage(failure));
    }
  };
  const wait = execution.waiting_for;
  return (
    <>
      {execution.status === 'waiting' && wait ? (
        <div className="wait-banner" data-testid="execution-waiting">
          <p>
            Waiting at step {wait.step} ({wait.listener}) for {describeWait(wait)}
            {wait.timeout_at ? <span className="muted small"> · gives up {formatTimestamp(wait.timeout_at)}</span> : null}
          </p>
          {wait.kind === 'approval' ? (
            <div className="wait-actions">
              <button
                type="button"
                className="button button-small button-primary"
                data-testid="execution-approve"
                disabled={action.isPending}
                onClick={() => void run({ kind: 'approve' })}
              >
                Approve
              </button>
              <button
                type="button"
                className="button button-small"
                data-testid="execution-reject"
                disabled={action.isPending}
                onClick={() => void run({ kind: 'reject' })}
              >
                Reject
              </button>
            </div>
          ) : null}
        </div>
      ) : null}
      {CANCELLABLE.has(execution.status) ? (
        <button
          type="button"
          className="button button-small"
          data-testid="execution-cancel"
          disabled={action.isPending}
          onClick={() => void run({ kind: 'cancel' })}
        >
          Cancel
        </button>
      ) : null}
      {error ? (
        <p className="form-error" role="alert">
          {error}
        </p>
      ) : null}
    </>
  );
}

/** "Rerun from here" on a step of a failed execution: a new execution begins at that step. */
function RerunFromStep({ execution, step, flowId }: { execution: ExecutionDetail; step: number; flowId: string }) {
  const action = useExecutionAction(flowId, execution.id);
  const navigate = useNavigate();
  const [error, setError] = useState<string | null>(null);
  return (
    <>
      <button
        type="button"
        className="button button-small"
        data-testid={`step-rerun-${step}`}
        disabled={action.isPending}
        onClick={async () => {
          setError(null);
          try {
            const result = await action.mutateAsync({ kind: 'rerun', fromStep: step });
            navigate(`/flow/${flowId}/runs/${result.execution_id}`);
          } catch (failure) {
            setError(errorMessage(failure));
          }
        }}
      >
        Rerun from here
      </button>
      {error ? (
        <p className="form-error" role="alert">
          {error}
        </p>
      ) : null}
    </>
  );
}

/** Start offset and width of each step as fractions of the execution's span (for the bars). */
export function stepBars(steps: ExecutionStep[]): Array<{ left: number; width: number }> {
  const times = steps.map((step) => {
    const start = step.started_at ? Date.parse(step.started_at) : NaN;
    const end = step.finished_at ? Date.parse(step.finished_at) : NaN;
    const duration = step.duration_ms ?? (Number.isFinite(end - start) ? end - start : 0);
    return { start, duration };
  });
  const starts = times.map((t) => t.start).filter(Number.isFinite);
  if (!starts.length) {
    const total = times.reduce((sum, t) => sum + Math.max(0, t.duration), 0) || 1;
    let offset = 0;
    return times.map((t) => {
      const bar = { left: offset / total, width: Math.max(0, t.duration) / total };
      offset += Math.max(0, t.duration);
      return bar;
    });
  }
  const first = Math.min(...starts);
  const last = Math.max(...times.map((t) => (Number.isFinite(t.start) ? t.start + Math.max(0, t.duration) : first)));
  const span = Math.max(1, last - first);
  return times.map((t) => ({
    left: Number.isFinite(t.start) ? (t.start - first) / span : 0,
    width: Math.max(0, t.duration) / span,
  }));
}

function Timeline({ execution, flowId }: { execution: ExecutionDetail; flowId: string }) {
  const retry = useRetryExecution(flowId);
  const navigate = useNavigate();
  const [retryError, setRetryError] = useState<string | null>(null);
  const steps = [...(execution.steps ?? [])].sort((a, b) => a.step - b.step);
  const bars = stepBars(steps);
  const duration =
    execution.duration_ms ??
    (execution.started_at && execution.finished_at
      ? Date.parse(execution.finished_at) - Date.parse(execution.started_at)
      : null);

  return (
    <section className="timeline" aria-label="Execution timeline" data-testid="execution-timeline">
      <header className="timeline-header">
        <div>
          <h2>
            Execution <code>{execution.id.slice(0, 8)}</code>
          </h2>
          <p className="muted small">
            {execution.trigger ? <>trigger {execution.trigger} · </> : null}
            {formatTimestamp(execution.created_at)} · {formatDuration(duration)}
          </p>
        </div>
        <StatusBadge status={execution.status} testId="execution-status" />
        <button
          type="button"
          className="button button-small"
          aria-label="Retry this execution"
          disabled={retry.isPending || isActiveExecution(execution.status)}
          onClick={async () => {
            setRetryError(null);
            try {
              const result = await retry.mutateAsync(execution.id);
              navigate(`/flow/${flowId}/runs/${result.execution_id}`);
            } catch (error) {
              setRetryError(errorMessage(error));
            }
          }}
        >
          Retry
        </button>
        <ExecutionActions execution={execution} flowId={flowId} />
      </header>
      {execution.rerun_of ? (
        <p className="muted small">
          Rerun of <Link to={`/flow/${flowId}/runs/${execution.rerun_of}`}>{execution.rerun_of.slice(0, 8)}</Link> from step{' '}
          {execution.rerun_from_step}
        </p>
      ) : null}
      {execution.callback_status ? (
        <p className={execution.callback_status === 'callback_failed' ? 'form-error' : 'muted small'} data-testid="execution-callback">
          callback {execution.callback_status}
          {execution.callback_error ? `: ${execution.callback_error}` : ''}
        </p>
      ) : null}
      {retryError ? (
        <p className="form-error" role="alert">
          {retryError}
        </p>
      ) : null}

      <div className="timeline-io">
        <JsonBlock label="Input" value={execution.input} testId="execution-input" />
        <JsonBlock label="Outputs" value={execution.outputs} testId="execution-outputs" />
      </div>
      {!isEmptyValue(execution.error) ? (
        <JsonBlock label="Error" value={execution.error} tone="error" testId="execution-error" />
      ) : null}
      {execution.reason ? (
        <p className="form-error" data-testid="execution-reason">
          {execution.reason}
        </p>
      ) : null}

      <h3>Steps</h3>
      {steps.length === 0 ? (
        <p className="muted">{isActiveExecution(execution.status) ? 'Waiting for the first step…' : 'No steps recorded.'}</p>
      ) : (
        <ol className="steps" data-testid="execution-steps">
          {steps.map((step, index) => (
            <li key={`${step.step}-${index}`} className={`step step-${step.status}`} data-testid={`step-${step.listener}`}>
              <details open={!isEmptyValue(step.error)}>
                <summary>
                  <span className="step-number">{step.step}</span>
                  <span className="step-name">{step.listener}</span>
                  <span className="muted small step-handler">{step.handler}</span>
                  <StatusBadge status={step.status} />
                  <span className="step-bar" aria-hidden="true">
                    <span
                      style={{
                        left: `${(bars[index].left * 100).toFixed(2)}%`,
                        width: `${Math.max(1, bars[index].width * 100).toFixed(2)}%`,
                      }}
                    />
                  </span>
                  <span className="step-duration" data-testid="step-duration">
                    {formatDuration(step.duration_ms)}
                  </span>
                </summary>
                <div className="step-io">
                  {Array.isArray(step.routed_to) && step.routed_to.length ? (
                    <p className="muted small step-routed">→ {step.routed_to.map(String).join(', ')}</p>
                  ) : null}
                  {step.reason ? <p className="form-error step-routed">{step.reason}</p> : null}
                  {execution.status === 'failed' ? (
                    <RerunFromStep execution={execution} step={step.step} flowId={flowId} />
                  ) : null}
                  <JsonBlock label="Input" value={step.input} />
                  <JsonBlock label="Output" value={step.output} />
                  {!isEmptyValue(step.error) ? <JsonBlock label="Error" value={step.error} tone="error" /> : null}
                </div>
              </details>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}

export default function RunsPage() {
  const { id = '', executionId } = useParams();
  const flow = useFlow(id);
  const [status, setStatus] = useState('');
  const executions = useExecutions(id, status);
  const execution = useExecution(executionId);
  const items = executions.data?.pages.flatMap((page) => page.items) ?? [];

  return (
    <div className="page runs-page">
      <div className="page-header">
        <div>
          <p className="breadcrumbs">
            <Link to="/dashboard">Flows</Link> / <Link to={`/flow/${id}`}>{flow.data?.name ?? 'flow'}</Link> / runs
          </p>
          <h1>Runs</h1>
        </div>
        <label className="field field-inline">
          <span>Status</span>
          <select value={status} onChange={(event) => setStatus(event.target.value)} aria-label="Filter by status">
            {STATUS_FILTERS.map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </label>
      </div>

      <div className="runs-layout">
        <section className="runs-list" aria-label="Executions">
          {executions.isPending ? <p className="muted">Loading…</p> : null}
          {executions.isError ? (
            <p className="form-error" role="alert">
              {errorMessage(executions.error)}
            </p>
          ) : null}
          {executions.isSuccess && items.length === 0 ? (
            <p className="muted" data-testid="runs-empty">
              No executions yet. Open the editor and click Run.
            </p>
          ) : null}
          <ul data-testid="runs-list">
            {items.map((item) => (
              <li key={item.id} className={item.id === executionId ? 'active' : undefined}>
                <Link to={`/flow/${id}/runs/${item.id}`} data-testid={`run-row-${item.id}`} aria-current={item.id === executionId ? 'page' : undefined}>
                  <StatusBadge status={item.status} />
                  <span className="run-meta">
                    <span title={formatTimestamp(item.created_at)}>{formatRelative(item.created_at)}</span>
                    <span className="muted small">
                      {item.trigger ?? 'trigger'} · {formatDuration(item.duration_ms)}
                    </span>
                    {item.status === 'waiting' && item.waiting_for ? (
                      <span className="muted small" data-testid={`run-waiting-${item.id}`}>
                        waits for {describeWait(item.waiting_for)}
                      </span>
                    ) : null}
                  </span>
                </Link>
              </li>
            ))}
          </ul>
          {executions.hasNextPage ? (
            <button
              type="button"
              className="button button-small"
              onClick={() => void executions.fetchNextPage()}
              disabled={executions.isFetchingNextPage}
            >
              {executions.isFetchingNextPage ? 'Loading…' : 'Load more'}
            </button>
          ) : null}
        </section>

        <div className="runs-detail">
          {!executionId ? <p className="muted panel-empty">Select an execution to see its steps.</p> : null}
          {executionId && execution.isPending ? <p className="muted">Loading execution…</p> : null}
          {execution.isError ? (
            <p className="form-error" role="alert">
              {errorMessage(execution.error)}
            </p>
          ) : null}
          {execution.data ? <Timeline execution={execution.data} flowId={id} /> : null}
        </div>
      </div>
    </div>
  );
}
