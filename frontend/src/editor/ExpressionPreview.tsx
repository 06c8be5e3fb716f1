// Expression help: field paths of the node's last input to complete from, and a live preview of
// the expression's value on that input (evaluated by the control plane, like the pump does).
import { useEffect, useState } from 'react';
import { errorMessage } from '../api/client';
import { api } from '../api/endpoints';
import { fieldPaths, useNodeRun } from './runData';

/** Paths of the node's last input (`payload.order.total`, ...), offered while typing. */
export function useExpressionPaths(nodeName: string): string[] {
  const run = useNodeRun(nodeName);
  return run ? fieldPaths(run.input) : [];
}

export function ExpressionPreview({ nodeName, expression, testId }: { nodeName: string; expression: unknown; testId: string }) {
  const run = useNodeRun(nodeName);
  const text = typeof expression === 'string' ? expression.trim() : '';
  const [shown, setShown] = useState<{ value?: unknown; error?: string | null } | null>(null);

  useEffect(() => {
    if (!run || !text) {
      setShown(null);
      return;
    }
    const controller = new AbortController();
    const timer = window.setTimeout(() => {
      api
        .evaluate(text, run.input, controller.signal)
        .then((result) => setShown(result))
        .catch((error) => {
          if (!controller.signal.aborted) setShown({ error: errorMessage(error) });
        });
    }, 250);
    return () => {
      window.clearTimeout(timer);
      controller.abort();
    };
  }, [run, text]);

  if (!run) return <p className="hint small">Run the flow once to preview this expression on real data.</p>;
  if (!shown) return null;
  return (
    <div className={shown.error ? 'expression-preview error-text' : 'expression-preview'} data-testid={testId} aria-live="polite">
      <span className="muted small">On the last input: </span>
      <code>{shown.error ? shown.error : shown.value === undefined ? 'null' : JSON.stringify(shown.value)}</code>
    </div>
  );
}
