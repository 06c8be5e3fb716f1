import { useEffect, useRef, useState } from 'react';
import { Link } from 'react-router';
import { streamLogs } from '../api/logStream';
import type { LogEvent } from '../api/types';
import { toDate } from '../components/format';

const MAX_LINES = 500;

export function parseLogEvent(data: string): LogEvent | null {
  try {
    const value = JSON.parse(data) as Partial<LogEvent>;
    if (!value || typeof value !== 'object') return null;
    return {
      ts: typeof value.ts === 'string' || typeof value.ts === 'number' ? value.ts : new Date().toISOString(),
      level: typeof value.level === 'string' ? value.level : 'info',
      message: typeof value.message === 'string' ? value.message : JSON.stringify(value),
      execution_id: value.execution_id ?? null,
    };
  } catch {
    return data ? { ts: new Date().toISOString(), level: 'info', message: data } : null;
  }
}

function time(ts: string | number): string {
  const date = toDate(ts);
  return date ? date.toLocaleTimeString() : String(ts);
}

/** Live logs of the flow's pump over Server-Sent Events (fetched with the token in a header). */
export function LogPanel({ flowId, onClose }: { flowId: string; onClose: () => void }) {
  const [lines, setLines] = useState<LogEvent[]>([]);
  const [connection, setConnection] = useState<'connecting' | 'live' | 'retrying'>('connecting');
  const [execution, setExecution] = useState('');
  const executions = [...new Set(lines.map((line) => line.execution_id).filter((id): id is string => Boolean(id)))].reverse();
  const shown = execution ? lines.filter((line) => line.execution_id === execution) : lines;
  const listRef = useRef<HTMLOListElement>(null);
  const stickToBottom = useRef(true);

  useEffect(() => {
    return streamLogs(flowId, {
      onState: setConnection,
      onEvent: (event) => {
        if (event.event !== 'log' && event.event !== 'message') return;
        const line = parseLogEvent(event.data);
        if (line) setLines((previous) => [...previous, line].slice(-MAX_LINES));
      },
    });
  }, [flowId]);

  useEffect(() => {
    const list = listRef.current;
    if (list && stickToBottom.current) list.scrollTop = list.scrollHeight;
  }, [lines]);

  return (
    <section className="log-panel" aria-label="Live logs" data-testid="log-panel">
      <header className="log-header">
        <h2>Logs</h2>
        <span className={`live-dot live-${connection}`} data-testid="log-connection">
          {connection === 'live' ? 'live' : connection === 'retrying' ? 'reconnecting…' : 'connecting…'}
        </span>
        <span className="spacer" />
        <select
          value={execution}
          onChange={(event) => setExecution(event.target.value)}
          aria-label="Show the lines of one execution"
          data-testid="log-filter"
        >
          <option value="">All lines</option>
          {executions.map((id) => (
            <option key={id} value={id}>
              execution {id.slice(0, 8)}
            </option>
          ))}
        </select>
        <button type="button" className="button button-small" onClick={() => setLines([])} aria-label="Clear logs">
          Clear
        </button>
        <button type="button" className="icon-button" onClick={onClose} aria-label="Hide logs">
          ×
        </button>
      </header>
      <ol
        ref={listRef}
        className="log-lines"
        data-testid="log-lines"
        onScroll={(event) => {
          const el = event.currentTarget;
          stickToBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
        }}
      >
        {shown.length === 0 ? <li className="muted">No log lines yet. Start the flow and run it.</li> : null}
        {shown.map((line, index) => (
          <li key={index} className={`log-line log-${line.level}`} data-execution={line.execution_id ?? ''}>
            <time>{time(line.ts)}</time>
            <span className="log-level">{line.level}</span>
            <span className="log-message">{line.message}</span>
            {line.execution_id ? (
              <>
                <button
                  type="button"
                  className="link-button log-exec"
                  onClick={() => setExecution(line.execution_id ?? '')}
                  aria-label="Show only this execution's lines"
                >
                  {line.execution_id.slice(0, 8)}
                </button>
                <Link to={`/flow/${flowId}/runs/${line.execution_id}`} className="log-exec" aria-label="Open execution">
                  ↗
                </Link>
              </>
            ) : null}
          </li>
        ))}
      </ol>
    </section>
  );
}
