// Maps server problems onto canvas nodes (badges) and YAML lines (markers).
import { createContext, useContext } from 'react';
import type { Problem } from '../api/types';
import type { FlowNode } from './nodeKinds';
import type { FieldErrors } from './validation';

export interface NodeProblems {
  server: Map<string, string[]>;
  local: Map<string, FieldErrors>;
}

export const NodeProblemsContext = createContext<NodeProblems>({ server: new Map(), local: new Map() });

export function useNodeProblems(nodeId: string): { server: string[]; local: string[] } {
  const value = useContext(NodeProblemsContext);
  return {
    server: value.server.get(nodeId) ?? [],
    local: Object.values(value.local.get(nodeId) ?? {}),
  };
}

/** Problems grouped by canvas node id; a problem naming a listener by path is matched by name too. */
export function problemsByNode(problems: Problem[], nodes: FlowNode[]): Map<string, string[]> {
  const result = new Map<string, string[]>();
  const ids = new Set(nodes.map((node) => node.id));
  for (const problem of problems) {
    const nodeId = problem.node_id && ids.has(problem.node_id) ? problem.node_id : null;
    if (!nodeId) continue;
    const list = result.get(nodeId) ?? [];
    list.push(problem.message);
    result.set(nodeId, list);
  }
  return result;
}

export function problemsWithoutNode(problems: Problem[], nodes: FlowNode[]): Problem[] {
  const ids = new Set(nodes.map((node) => node.id));
  return problems.filter((problem) => !problem.node_id || !ids.has(problem.node_id));
}

export interface MarkerSpec {
  line: number;
  startColumn: number;
  message: string;
}

/** Problems that carry a line, clamped to the document, one marker each. */
export function problemMarkers(problems: Problem[], lineCount: number): MarkerSpec[] {
  const markers: MarkerSpec[] = [];
  for (const problem of problems) {
    if (typeof problem.line !== 'number' || !Number.isFinite(problem.line)) continue;
    const line = Math.min(Math.max(1, Math.floor(problem.line)), Math.max(1, lineCount));
    const startColumn = typeof problem.column === 'number' && problem.column > 0 ? Math.floor(problem.column) : 1;
    markers.push({ line, startColumn, message: problem.path ? `${problem.message} (${problem.path})` : problem.message });
  }
  return markers;
}

const FIELD_WORDS: Record<string, string> = {
  handler: 'handler',
  target: 'target',
  cron: 'schedule',
  peers: 'connections',
  on_error: 'error route',
  max_iterations: 'max iterations',
  timeout_seconds: 'timeout',
};

/** A path in a user's words: `nodes[7].data.config.url` → `fetch › url` (the node by name),
 * `listeners[2].peers[0]` → `listener 3 › connections`. */
export function friendlyPath(path: string, nodes?: FlowNode[]): string {
  const nodeMatch = /^nodes\[(\d+)\](?:\.data)?(?:\.config)?\.?(.*)$/.exec(path);
  if (nodeMatch) {
    const node = nodes?.[Number(nodeMatch[1])];
    const field = nodeMatch[2].replace(/\[\d+\]/g, '').split('.').filter(Boolean).pop() ?? '';
    const who = node ? node.data.name : `node ${Number(nodeMatch[1]) + 1}`;
    return field ? `${who} › ${FIELD_WORDS[field] ?? field.replace(/_/g, ' ')}` : who;
  }
  const listMatch = /^(listeners|triggers)\[(\d+)\]\.?(.*)$/.exec(path);
  if (listMatch) {
    const field = listMatch[3].replace(/\[\d+\]/g, '').split('.').filter(Boolean).pop() ?? '';
    const who = `${listMatch[1] === 'listeners' ? 'step' : 'trigger'} ${Number(listMatch[2]) + 1}`;
    return field ? `${who} › ${FIELD_WORDS[field] ?? field.replace(/_/g, ' ')}` : who;
  }
  return path.replace(/_/g, ' ');
}

/** "line 4: …" for YAML problems, "<node name>: …" for canvas problems, else the field in words. */
export function describeProblem(problem: Problem, nodes?: FlowNode[]): string {
  const node = problem.node_id && nodes ? nodes.find((candidate) => candidate.id === problem.node_id) : undefined;
  const where = problem.line
    ? `line ${problem.line}`
    : node
      ? node.data.name
      : problem.path
        ? friendlyPath(problem.path, nodes)
        : '';
  return where ? `${where}: ${problem.message}` : problem.message;
}

/** One entry per problem a user would call the same (the compile and the save report some twice). */
export function dedupeProblems(problems: Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems.filter((problem) => {
    const key = `${problem.node_id ?? problem.line ?? problem.path ?? ''}|${problem.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** What keeps a flow from starting although it saves: no trigger, no step. */
export function flowWarnings(nodes: FlowNode[]): string[] {
  const warnings: string[] = [];
  if (!nodes.some((node) => node.type === 'trigger')) {
    warnings.push('No trigger: add a Trigger node, or nothing can start this flow (Run needs a manual or webhook trigger).');
  }
  if (!nodes.some((node) => node.type !== 'trigger')) {
    warnings.push('No steps: add at least one node after the trigger; a flow without steps cannot be started.');
  }
  return warnings;
}
