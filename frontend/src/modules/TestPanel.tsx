// The Test panel: run the latest built version once on a sample payload, in the pump's sandbox.
import { useState } from 'react';
import { errorMessage } from '../api/client';
import { JsonBlock } from '../components/JsonBlock';
import { modulesApi, type TestRunResult } from './api';

function parseJson(text: string, what: string): unknown {
  try {
    return text.trim() ? JSON.parse(text) : {};
  } catch (error) {
    throw new Error(`${what} is not valid JSON: ${(error as Error).message}`);
  }
}

export function TestPanel({
  moduleId,
  version,
  initialPayload,
  initialConfig,
  stale,
}: {
  moduleId: string;
  version: number;
  initialPayload: unknown;
  initialConfig: Record<string, unknown>;
  stale: boolean;
}) {
  const [payload, setPayload] = useState(JSON.stringify(initialPayload ?? {}, null, 2));
  const [config, setConfig] = useState(JSON.stringify(initialConfig ?? {}, null, 2));
  const [useMemory, setUseMemory] = useState(false);
  const [memory, setMemory] = useState('{}');
  const [running, setRunning] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [result, setResult] = useState<TestRunResult | null>(null);

  async function run() {
    setError(null);
    setRunning(true);
    try {
      const configValue = parseJson(config, 'Config');
      if (!configValue || typeof configValue !== 'object' || Array.isArray(configValue)) {
        throw new Error('Config must be a JSON object');
      }
      const memoryValue = useMemory ? parseJson(memory, 'Memory') : null;
      const outcome = await modulesApi.test(moduleId, {
        version,
        payload: parseJson(payload, 'Payload'),
        config: configValue as Record<string, unknown>,
        memory: memoryValue as Record<string, unknown> | null,
      });
      setResult(outcome);
      if (outcome.memory && useMemory) setMemory(JSON.stringify(outcome.memory, null, 2));
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setRunning(false);
    }
  }

  return (
    <div className="test-panel" data-testid="module-test-panel">
      {stale ? (
        <p className="notice notice-warn small">Runs version {version}, the latest build: build to test your changes.</p>
      ) : null}
      <label className="field">
        <span>Payload (JSON)</span>
        <textarea rows={5} className="mono" value={payload} onChange={(event) => setPayload(event.target.value)} data-testid="test-payload" />
      </label>
      <label className="field">
        <span>Config (JSON, as the Code node would pass it)</span>
        <textarea rows={3} className="mono" value={config} onChange={(event) => setConfig(event.target.value)} data-testid="test-config" />
      </label>
      <label className="field-checkbox">
        <input type="checkbox" checked={useMemory} onChange={(event) => setUseMemory(event.target.checked)} />
        <span>Project memory for this run</span>
      </label>
      {useMemory ? (
        <label className="field">
          <span>Memory before the run (JSON object)</span>
          <textarea rows={3} className="mono" value={memory} onChange={(event) => setMemory(event.target.value)} data-testid="test-memory" />
        </label>
      ) : null}
      <button type="button" className="button button-primary" onClick={run} disabled={running || version < 1} data-testid="test-run">
        {running ? 'Running…' : `Run version ${version}`}
      </button>
      {error ? (
        <p className="form-error" role="alert">
          {error}
        </p>
      ) : null}
      {result ? (
        <div className="test-result" data-testid="test-result" aria-live="polite">
          <p className={result.ok ? 'ok-text' : 'error-text'} data-testid="test-status">
            {result.ok ? 'Succeeded' : `Failed: ${result.error?.reason ?? 'error'}`}
          </p>
          <dl className="facts">
            <dt>Fuel used</dt>
            <dd data-testid="test-fuel">{result.fuel_used?.toLocaleString() ?? '—'}</dd>
            <dt>Time</dt>
            <dd data-testid="test-time">{result.duration_ms !== null ? `${result.duration_ms.toFixed(2)} ms` : '—'}</dd>
            {result.route ? (
              <>
                <dt>Routes to</dt>
                <dd>{result.route.join(', ')}</dd>
              </>
            ) : null}
          </dl>
          {result.ok ? (
            <JsonBlock value={result.result} label="Result" testId="test-output" />
          ) : (
            <p className="error-text" data-testid="test-error">
              {result.error?.message}
            </p>
          )}
          <h3 className="small">Log</h3>
          {result.logs.length === 0 ? (
            <p className="muted small">No log lines</p>
          ) : (
            <ul className="log-lines" data-testid="test-logs">
              {result.logs.map((line, index) => (
                <li key={index} className={`log-${line.level}`}>
                  <span className="mono small">{line.level}</span> {line.message}
                </li>
              ))}
            </ul>
          )}
        </div>
      ) : null}
    </div>
  );
}
