import { Link } from 'react-router';
import { errorMessage } from '../api/client';
import { useCancelScheduledRun, useScheduledRuns } from '../api/queries';
import type { ScheduleWhen } from '../api/types';
import { StatusBadge } from '../components/StatusBadge';
import { formatTimestamp } from '../components/format';

export type WhenMode = 'now' | 'delay' | 'at';
export type DelayUnit = 'seconds' | 'minutes' | 'hours' | 'days';

const UNIT_SECONDS: Record<DelayUnit, number> = { seconds: 1, minutes: 60, hours: 3600, days: 86_400 };
/** The control plane's bound on a one-off schedule (jobs/schemas.py). */
const MAX_DELAY_SECONDS = 366 * 86_400;
/** Finished schedules shown below the pending ones. */
const RECENT_FINISHED = 5;

export interface WhenInput {
  mode: WhenMode;
  amount: string;
  unit: DelayUnit;
  /** A `datetime-local` value: the browser's local time, no zone. */
  at: string;
}

/** The request's `at` or `delay_seconds`, or why the input cannot be scheduled. */
export function scheduleWhen(input: WhenInput, now: number = Date.now()): { ok: true; when: ScheduleWhen } | { ok: false; message: string } {
  if (input.mode === 'delay') {
    const amount = Number(input.amount);
    if (!input.amount.trim() || !Number.isFinite(amount) || amount < 0) {
      return { ok: false, message: 'The delay must be a number, 0 or more.' };
    }
    const seconds = amount * UNIT_SECONDS[input.unit];
    if (seconds > MAX_DELAY_SECONDS) return { ok: false, message: 'The delay may be at most 366 days.' };
    return { ok: true, when: { delay_seconds: seconds } };
  }
  const moment = Date.parse(input.at);
  if (!input.at || Number.isNaN(moment)) return { ok: false, message: 'Choose the date and time of the run.' };
  if (moment < now - 1000) return { ok: false, message: 'That time has passed: choose a later one.' };
  // datetime-local is local time: toISOString sends it with its zone (UTC), as the API asks.
  return { ok: true, when: { at: new Date(moment).toISOString() } };
}

/** The flow's one-off scheduled runs: pending ones (cancellable) first, then the latest that ended. */
export function ScheduledRuns({ flowId }: { flowId: string }) {
  const runs = useScheduledRuns(flowId);
  const cancel = useCancelScheduledRun(flowId);
  const items = runs.data?.items ?? [];
  const open = items.filter((job) => job.status === 'pending' || job.status === 'firing');
  const ended = items.filter((job) => !open.includes(job)).slice(0, RECENT_FINISHED);
  if (!open.length && !ended.length) return null;
  return (
    <section className="scheduled-runs" aria-label="Scheduled runs" data-testid="scheduled-runs">
      <h3 className="small">Scheduled runs</h3>
      {cancel.error ? (
        <p className="form-error" role="alert">
          {errorMessage(cancel.error)}
        </p>
      ) : null}
      <ul className="plain-list">
        {[...[...open].reverse(), ...ended].map((job) => (
          <li key={job.id} data-testid={`scheduled-run-${job.id}`} data-status={job.status} className="scheduled-run">
            <StatusBadge status={job.status} />
            <span>{formatTimestamp(job.fire_at)}</span>
            {job.trigger ? <span className="muted small">{job.trigger}</span> : null}
            {job.status === 'pending' ? (
              <button
                type="button"
                className="button button-small"
                disabled={cancel.isPending}
                onClick={() => cancel.mutate(job.id)}
                data-testid={`scheduled-run-cancel-${job.id}`}
              >
                Cancel
              </button>
            ) : null}
            {job.execution_id ? (
              <Link to={`/flow/${flowId}/runs/${job.execution_id}`} className="button button-small" data-testid={`scheduled-run-open-${job.id}`}>
                Open run
              </Link>
            ) : null}
            {job.error ? <span className="form-error small">{job.error}</span> : null}
          </li>
        ))}
      </ul>
    </section>
  );
}
