import { useEffect, useState, type FormEvent } from 'react';
import { Link } from 'react-router';
import { useQueryClient } from '@tanstack/react-query';
import { errorMessage } from '../api/client';
import { api } from '../api/endpoints';
import { keys, useInject, useSamples, useScheduleRun } from '../api/queries';
import type { InjectResult, ScheduledRun } from '../api/types';
import { JsonBlock } from '../components/JsonBlock';
import { Modal } from '../components/Modal';
import { StatusBadge } from '../components/StatusBadge';
import { formatTimestamp, isEmptyValue } from '../components/format';
import { ScheduledRuns, scheduleWhen, type DelayUnit, type WhenMode } from './ScheduledRuns';

interface RunDialogProps {
  flowId: string;
  triggers: Array<{ name: string; kind: string }>;
  flowStatus: string;
  onClose: () => void;
  /** Saves unsaved changes and starts the flow; false when that failed (the editor says why). */
  onStart: () => Promise<boolean>;
  /** A run finished (or was queued): the canvas shows its data. */
  onResult?: (executionId: string) => void;
}

const LAST_SAMPLE_KEY = (flowId: string) => `flowplane.run.sample.${flowId}`;

export function parsePayload(text: string): { ok: true; value: unknown } | { ok: false; message: string } {
  if (!text.trim()) return { ok: true, value: {} };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return { ok: false, message: `Payload is not valid JSON: ${error instanceof Error ? error.message : String(error)}` };
  }
}

/** Run: inject a payload through the flow's manual trigger and wait for the result, or schedule
 * the run once, later (a one-off schedule). */
export function RunDialog({ flowId, triggers, flowStatus, onClose, onStart, onResult }: RunDialogProps) {
  const inject = useInject(flowId);
  const client = useQueryClient();
  const samples = useSamples(flowId);
  const [sampleName, setSampleName] = useState(() => window.localStorage.getItem(LAST_SAMPLE_KEY(flowId)) ?? '');
  const [newSampleName, setNewSampleName] = useState('');
  const [sampleNote, setSampleNote] = useState<string | null>(null);
  const [starting, setStarting] = useState(false);
  const stopped = flowStatus === 'stopped' || flowStatus === 'error';
  const runnable = triggers.filter((trigger) => trigger.kind !== 'schedule');
  const preferred = runnable.find((trigger) => trigger.kind === 'manual') ?? runnable[0] ?? triggers[0];
  const [trigger, setTrigger] = useState(preferred?.name ?? '');
  const [payload, setPayload] = useState('{\n  \n}');
  const [payloadError, setPayloadError] = useState<string | null>(null);
  const [result, setResult] = useState<InjectResult | null>(null);
  const [error, setError] = useState<string | null>(null);
  const schedule = useScheduleRun(flowId);
  const [whenMode, setWhenMode] = useState<WhenMode>('now');
  const [delayAmount, setDelayAmount] = useState('10');
  const [delayUnit, setDelayUnit] = useState<DelayUnit>('minutes');
  const [at, setAt] = useState('');
  const [whenError, setWhenError] = useState<string | null>(null);
  const [scheduled, setScheduled] = useState<ScheduledRun | null>(null);

  // The last sample used for this flow is chosen again (its payload fills the box once loaded).
  useEffect(() => {
    const chosen = samples.data?.find((sample) => sample.name === sampleName);
    if (chosen) setPayload(JSON.stringify(chosen.payload, null, 2));
  }, [samples.data, sampleName]);

  function chooseSample(name: string) {
    setSampleName(name);
    if (name) window.localStorage.setItem(LAST_SAMPLE_KEY(flowId), name);
    else window.localStorage.removeItem(LAST_SAMPLE_KEY(flowId));
  }

  async function saveSample() {
    const parsed = parsePayload(payload);
    if (!parsed.ok) return setPayloadError(parsed.message);
    const name = newSampleName.trim() || sampleName;
    if (!name) return setSampleNote('Name the sample first.');
    try {
      await api.saveSample(flowId, name, parsed.value);
      await client.invalidateQueries({ queryKey: keys.samples(flowId) });
      chooseSample(name);
      setNewSampleName('');
      setSampleNote(`Saved as "${name}".`);
    } catch (err) {
      setSampleNote(errorMessage(err));
    }
  }

  async function submit(event: FormEvent | { preventDefault(): void }, startFirst = false) {
    event.preventDefault();
    const parsed = parsePayload(payload);
    if (!parsed.ok) return setPayloadError(parsed.message);
    setPayloadError(null);
    setError(null);
    setResult(null);
    setScheduled(null);
    if (whenMode !== 'now') return scheduleLater(parsed.value);
    if (startFirst) {
      setStarting(true);
      const started = await onStart();
      setStarting(false);
      if (!started) return setError('The flow could not be started; the editor shows why.');
    }
    try {
      const outcome = await inject.mutateAsync({ payload: parsed.value, trigger: trigger || undefined });
      setResult(outcome);
      onResult?.(outcome.execution_id);
    } catch (err) {
      setError(errorMessage(err));
    }
  }

  async function scheduleLater(payloadValue: unknown) {
    const chosen = scheduleWhen({ mode: whenMode, amount: delayAmount, unit: delayUnit, at });
    if (!chosen.ok) return setWhenError(chosen.message);
    setWhenError(null);
    try {
      setScheduled(await schedule.mutateAsync({ when: chosen.when, payload: payloadValue, trigger: trigger || undefined }));
    } catch (err) {
      setError(errorMessage(err));
    }
  }

  const later = whenMode !== 'now';
  return (
    <Modal title="Run flow" onClose={onClose} testId="run-dialog" wide>
      <form onSubmit={submit} noValidate>
        {stopped ? (
          <p className="notice notice-warn" data-testid="run-not-running">
            The flow is {flowStatus}: a run needs its pump. Use <strong>Start and run</strong> to start it and run this
            payload.
          </p>
        ) : flowStatus !== 'running' ? (
          <p className="notice" data-testid="run-not-running">
            The flow is {flowStatus}. The run waits until its pump is ready.
          </p>
        ) : null}
        {triggers.length > 1 ? (
          <label className="field">
            <span>Trigger</span>
            <select value={trigger} onChange={(event) => setTrigger(event.target.value)} aria-label="Trigger">
              {triggers.map((item) => (
                <option key={item.name} value={item.name}>
                  {item.name} ({item.kind})
                </option>
              ))}
            </select>
          </label>
        ) : null}
        <div className="field-row">
          <label className="field">
            <span>When</span>
            <select value={whenMode} onChange={(event) => setWhenMode(event.target.value as WhenMode)} aria-label="When" data-testid="run-when">
              <option value="now">Now</option>
              <option value="delay">After a delay</option>
              <option value="at">At a time</option>
            </select>
          </label>
          {whenMode === 'delay' ? (
            <>
              <label className="field">
                <span>Delay</span>
                <input
                  type="number"
                  min={0}
                  value={delayAmount}
                  onChange={(event) => setDelayAmount(event.target.value)}
                  aria-label="Delay"
                  data-testid="run-delay"
                />
              </label>
              <label className="field">
                <span>Unit</span>
                <select value={delayUnit} onChange={(event) => setDelayUnit(event.target.value as DelayUnit)} aria-label="Delay unit" data-testid="run-delay-unit">
                  <option value="seconds">seconds</option>
                  <option value="minutes">minutes</option>
                  <option value="hours">hours</option>
                  <option value="days">days</option>
                </select>
              </label>
            </>
          ) : null}
          {whenMode === 'at' ? (
            <label className="field">
              <span>At (your local time)</span>
              <input type="datetime-local" step={1} value={at} onChange={(event) => setAt(event.target.value)} aria-label="Run at" data-testid="run-at" />
            </label>
          ) : null}
        </div>
        {whenError ? (
          <p className="field-error" role="alert" data-testid="run-when-error">
            {whenError}
          </p>
        ) : null}
        {later && stopped ? (
          <p className="muted small">The flow is {flowStatus}: a scheduled run fires only if the flow is started by then; otherwise it is marked failed, with the reason.</p>
        ) : null}
        <div className="field-row">
          <label className="field">
            <span>Sample</span>
            <select
              value={sampleName}
              onChange={(event) => chooseSample(event.target.value)}
              aria-label="Sample payload"
              data-testid="run-sample"
            >
              <option value="">(none)</option>
              {(samples.data ?? []).map((sample) => (
                <option key={sample.name} value={sample.name}>
                  {sample.name}
                </option>
              ))}
            </select>
          </label>
          <label className="field">
            <span>Save payload as</span>
            <input
              value={newSampleName}
              onChange={(event) => setNewSampleName(event.target.value)}
              placeholder={sampleName || 'sample name'}
              aria-label="Sample name"
              data-testid="run-sample-name"
            />
          </label>
          <button type="button" className="button button-small" onClick={() => void saveSample()} data-testid="run-sample-save">
            Save sample
          </button>
        </div>
        {sampleNote ? (
          <p className="muted small" role="status" data-testid="run-sample-note">
            {sampleNote}
          </p>
        ) : null}
        <label className="field">
          <span>Payload (JSON, optional)</span>
          <textarea
            className="mono"
            rows={6}
            value={payload}
            spellCheck={false}
            onChange={(event) => setPayload(event.target.value)}
            aria-label="Run payload"
            aria-invalid={Boolean(payloadError)}
            data-testid="run-payload"
          />
          {payloadError ? (
            <small className="field-error" role="alert">
              {payloadError}
            </small>
          ) : null}
        </label>
        <div className="form-actions">
          <button type="button" className="button" onClick={onClose}>
            Close
          </button>
          {later ? (
            <button type="submit" className="button button-primary" disabled={schedule.isPending} data-testid="run-schedule">
              {schedule.isPending ? 'Scheduling…' : 'Schedule'}
            </button>
          ) : stopped ? (
            <button
              type="button"
              className="button button-primary"
              disabled={inject.isPending || starting}
              onClick={(event) => void submit(event, true)}
              data-testid="run-start-and-run"
            >
              {starting ? 'Starting…' : inject.isPending ? 'Running…' : 'Start and run'}
            </button>
          ) : (
            <button type="submit" className="button button-primary" disabled={inject.isPending} data-testid="run-submit" aria-label="Run now">
              {inject.isPending ? 'Running…' : 'Run'}
            </button>
          )}
        </div>
      </form>

      {error ? (
        <p className="form-error" role="alert" data-testid="run-error">
          {error}
        </p>
      ) : null}

      {scheduled ? (
        <p className="notice" role="status" data-testid="run-scheduled">
          Scheduled for {formatTimestamp(scheduled.fire_at)}.
        </p>
      ) : null}

      <ScheduledRuns flowId={flowId} />

      {result ? (
        <section className="run-result" data-testid="run-result" aria-label="Run result">
          <div className="run-result-header">
            <StatusBadge status={result.status} testId="run-status" />
            <Link
              to={`/flow/${flowId}/runs/${result.execution_id}`}
              className="button button-small"
              data-testid="run-open-timeline"
              aria-label="Open the run's timeline"
            >
              Open timeline
            </Link>
          </div>
          {result.outputs !== undefined ? <JsonBlock label="Outputs" value={result.outputs} testId="run-outputs" /> : null}
          {!isEmptyValue(result.error) ? <JsonBlock label="Error" value={result.error} tone="error" testId="run-error-detail" /> : null}
          {result.reason ? <p className="form-error">{result.reason}</p> : null}
        </section>
      ) : null}
    </Modal>
  );
}
