import { useState, type FormEvent } from 'react';
import { Link } from 'react-router';
import { errorMessage } from '../api/client';
import { useInject } from '../api/queries';
import type { InjectResult } from '../api/types';
import { JsonBlock } from '../components/JsonBlock';
import { Modal } from '../components/Modal';
import { StatusBadge } from '../components/StatusBadge';
import { isEmptyValue } from '../components/format';

interface RunDialogProps {
  flowId: string;
  triggers: Array<{ name: string; kind: string }>;
  flowStatus: string;
  onClose: () => void;
}

export function parsePayload(text: string): { ok: true; value: unknown } | { ok: false; message: string } {
  if (!text.trim()) return { ok: true, value: {} };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return { ok: false, message: `Payload is not valid JSON: ${error instanceof Error ? error.message : String(error)}` };
  }
}

/** Run: inject a payload through the flow's manual trigger and wait for the result. */
export function RunDialog({ flowId, triggers, flowStatus, onClose }: RunDialogProps) {
  const inject = useInject(flowId);
  const runnable = triggers.filter((trigger) => trigger.kind !== 'schedule');
  const preferred = runnable.find((trigger) => trigger.kind === 'manual') ?? runnable[0] ?? triggers[0];
  const [trigger, setTrigger] = useState(preferred?.name ?? '');
  const [payload, setPayload] = useState('{\n  \n}');
  const [payloadError, setPayloadError] = useState<string | null>(null);
  const [result, setResult] = useState<InjectResult | null>(null);
  const [error, setError] = useState<string | null>(null);

  async function submit(event: FormEvent) {
    event.preventDefault();
    const parsed = parsePayload(payload);
    if (!parsed.ok) return setPayloadError(parsed.message);
    setPayloadError(null);
    setError(null);
    setResult(null);
    try {
      setResult(await inject.mutateAsync({ payload: parsed.value, trigger: trigger || undefined }));
    } catch (err) {
      setError(errorMessage(err));
    }
  }

  return (
    <Modal title="Run flow" onClose={onClose} testId="run-dialog" wide>
      <form onSubmit={submit} noValidate>
        {flowStatus !== 'running' ? (
          <p className="notice notice-warn" data-testid="run-not-running">
            The flow is {flowStatus}. The execution is queued and runs once the flow is started.
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
          <button type="submit" className="button button-primary" disabled={inject.isPending} data-testid="run-submit" aria-label="Run now">
            {inject.isPending ? 'Running…' : 'Run'}
          </button>
        </div>
      </form>

      {error ? (
        <p className="form-error" role="alert" data-testid="run-error">
          {error}
        </p>
      ) : null}

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
