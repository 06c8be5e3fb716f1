// The last run's data per listener (from the recorded steps): the canvas marks failed nodes, the
// node panel shows their last input and output, and expression fields complete from them.
import { createContext, useContext } from 'react';
import type { ExecutionDetail, ExecutionStep } from '../api/types';

export interface NodeRun {
  status: string;
  input: unknown;
  output: unknown;
  error: unknown;
  reason?: string | null;
  step: number;
}

export interface RunData {
  executionId: string | null;
  status: string | null;
  byListener: Map<string, NodeRun>;
}

export const EMPTY_RUN: RunData = { executionId: null, status: null, byListener: new Map() };

/** The last visit of each listener wins (a loop visits one several times). */
export function runDataOf(execution: ExecutionDetail | undefined): RunData {
  if (!execution) return EMPTY_RUN;
  const byListener = new Map<string, NodeRun>();
  for (const step of (execution.steps ?? []) as ExecutionStep[]) {
    byListener.set(step.listener, {
      status: step.status,
      input: step.input,
      output: step.output,
      error: step.error,
      reason: step.reason,
      step: step.step,
    });
  }
  return { executionId: execution.id, status: execution.status, byListener };
}

export const RunDataContext = createContext<RunData>(EMPTY_RUN);

export function useNodeRun(name: string): NodeRun | undefined {
  return useContext(RunDataContext).byListener.get(name);
}

export function useRunData(): RunData {
  return useContext(RunDataContext);
}

/** Field paths of a JSON value (`payload.a.b`, `payload.items[0]`), for expression completion. */
export function fieldPaths(value: unknown, prefix = 'payload', depth = 0, out: string[] = []): string[] {
  if (depth > 4 || out.length > 200) return out;
  out.push(prefix);
  if (Array.isArray(value)) {
    if (value.length) fieldPaths(value[0], `${prefix}[0]`, depth + 1, out);
  } else if (value && typeof value === 'object') {
    for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
      const safe = /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? key : `"${key.replace(/"/g, '\\"')}"`;
      fieldPaths(child, `${prefix}.${safe}`, depth + 1, out);
    }
  }
  return out;
}
