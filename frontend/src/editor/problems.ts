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

/** "line 4: …" for YAML problems, "<node name>: …" for canvas problems, else "<path>: …". */
export function describeProblem(problem: Problem, nodes?: FlowNode[]): string {
  const node = problem.node_id && nodes ? nodes.find((candidate) => candidate.id === problem.node_id) : undefined;
  const where = problem.line ? `line ${problem.line}` : node ? node.data.name : problem.path || '';
  return where ? `${where}: ${problem.message}` : problem.message;
}
