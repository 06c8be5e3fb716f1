// The editor's state: a pure reducer over the canvas with undo/redo history.
// React Flow stays controlled by this state; the UI only dispatches actions.
import {
  applyEdgeChanges,
  applyNodeChanges,
  type EdgeChange,
  type NodeChange,
  type Viewport,
  type XYPosition,
} from '@xyflow/react';
import type { CanvasJson } from '../api/types';
import {
  contentKey,
  edgeId,
  fromCanvasJson,
  semanticKey,
  toCanvasJson,
  type CanvasSettings,
} from './canvasJson';
import { ERROR_HANDLE, KINDS, defaultData, type FlowEdge, type FlowNode, type NodeData, type NodeKind } from './nodeKinds';

export { contentKey, edgeId, fromCanvasJson, semanticKey, toCanvasJson, type CanvasSettings };

export interface Snapshot {
  nodes: FlowNode[];
  edges: FlowEdge[];
  /** Organism settings carried by the canvas (memory, limits); edited through the YAML. */
  settings?: CanvasSettings;
  /** The hand-written YAML this canvas came from; undo and redo bring it back as written. */
  yaml?: string;
}

/** Where the latest content change came from; the YAML sync uses it to avoid echo loops. */
export type ChangeOrigin = 'load' | 'canvas' | 'yaml' | 'history';

export interface EditorState {
  nodes: FlowNode[];
  edges: FlowEdge[];
  settings?: CanvasSettings;
  /** Set when the YAML was written by hand (applyParsed); a canvas edit compiles new text. */
  yaml?: string;
  viewport: Viewport;
  past: Snapshot[];
  future: Snapshot[];
  /** Consecutive edits with the same key (typing in one field, one drag) make one undo step. */
  coalesceKey: string | null;
  /** contentKey() at the last load or save. */
  savedKey: string;
  /** Bumps on every content change. */
  revision: number;
  origin: ChangeOrigin;
}

export interface Connection {
  source: string;
  target: string;
  sourceHandle?: string | null;
}

export type EditorAction =
  | { type: 'load'; canvas: CanvasJson | null | undefined }
  | { type: 'addNode'; kind: NodeKind; position: XYPosition; data?: Partial<NodeData>; avoidOverlap?: boolean }
  | { type: 'paste'; clip: Clip; offset: XYPosition }
  | { type: 'remove'; nodeIds?: string[]; edgeIds?: string[] }
  | { type: 'connect'; connection: Connection }
  | { type: 'nodesChange'; changes: NodeChange<FlowNode>[] }
  | { type: 'edgesChange'; changes: EdgeChange<FlowEdge>[] }
  | { type: 'beginDrag' }
  | { type: 'updateNodeData'; id: string; patch: Partial<NodeData>; coalesceKey?: string }
  | { type: 'select'; id: string | null }
  | { type: 'setViewport'; viewport: Viewport }
  | { type: 'applyParsed'; canvas: CanvasJson; yaml?: string; previousYaml?: string }
  | { type: 'undo' }
  | { type: 'redo' }
  | { type: 'markSaved'; key?: string };

export const HISTORY_LIMIT = 100;

/** Nodes (and the edges between them) copied with Ctrl+C, pasted with Ctrl+V. */
export interface Clip {
  nodes: FlowNode[];
  edges: FlowEdge[];
}

const NODE_BOX = { width: 200, height: 90 };

/** A position near `wanted` that no node's box covers (new nodes never land on others). */
export function freePosition(wanted: XYPosition, nodes: FlowNode[]): XYPosition {
  const overlaps = (point: XYPosition) =>
    nodes.some(
      (node) =>
        Math.abs(node.position.x - point.x) < NODE_BOX.width && Math.abs(node.position.y - point.y) < NODE_BOX.height,
    );
  if (!overlaps(wanted)) return wanted;
  for (let ring = 1; ring < 40; ring += 1) {
    for (const [dx, dy] of [[0, 1], [1, 0], [1, 1], [0, -1], [-1, 0], [1, -1], [-1, 1], [-1, -1]]) {
      const point = { x: wanted.x + dx * ring * (NODE_BOX.width + 20), y: wanted.y + dy * ring * (NODE_BOX.height + 20) };
      if (!overlaps(point)) return point;
    }
  }
  return wanted;
}

/** The selected nodes and the edges among them. */
export function copySelection(state: EditorState): Clip | null {
  const nodes = state.nodes.filter((node) => node.selected);
  if (!nodes.length) return null;
  const ids = new Set(nodes.map((node) => node.id));
  const edges = state.edges.filter((edge) => ids.has(edge.source) && ids.has(edge.target));
  return { nodes: nodes.map((node) => ({ ...node, selected: false })), edges };
}

/** Removes every selected node and edge (and the edges of removed nodes) as one undo step. */
export function selectionIds(state: EditorState): { nodeIds: string[]; edgeIds: string[] } {
  return {
    nodeIds: state.nodes.filter((node) => node.selected).map((node) => node.id),
    edgeIds: state.edges.filter((edge) => edge.selected).map((edge) => edge.id),
  };
}

export function createEditorState(canvas?: CanvasJson | null): EditorState {
  const { nodes, edges, viewport, settings } = fromCanvasJson(canvas);
  return {
    nodes,
    edges,
    settings,
    viewport,
    past: [],
    future: [],
    coalesceKey: null,
    savedKey: contentKey(nodes, edges, settings),
    revision: 0,
    origin: 'load',
  };
}

// ---------------------------------------------------------------- selectors

export function isDirty(state: EditorState): boolean {
  return contentKey(state.nodes, state.edges, state.settings) !== state.savedKey;
}

export function canUndo(state: EditorState): boolean {
  return state.past.length > 0;
}

export function canRedo(state: EditorState): boolean {
  return state.future.length > 0;
}

export function selectedNode(state: EditorState): FlowNode | null {
  const selected = state.nodes.filter((node) => node.selected);
  return selected.length === 1 ? selected[0] : null;
}

export function nodeByName(nodes: FlowNode[], name: string): FlowNode | undefined {
  return nodes.find((node) => node.data.name === name);
}

/** Names of the listeners a node sends to (its peers), in edge order. */
export function peerNames(nodeId: string, nodes: FlowNode[], edges: FlowEdge[]): string[] {
  const names: string[] = [];
  for (const edge of edges) {
    if (edge.source !== nodeId || edge.sourceHandle === ERROR_HANDLE) continue;
    const target = nodes.find((node) => node.id === edge.target);
    if (target && !names.includes(target.data.name)) names.push(target.data.name);
  }
  return names;
}

// ---------------------------------------------------------------- helpers


export function uniqueName(base: string, nodes: FlowNode[]): string {
  const taken = new Set(nodes.map((node) => node.data.name));
  if (!taken.has(base)) return base;
  for (let i = 2; ; i += 1) {
    const candidate = `${base}_${i}`;
    if (!taken.has(candidate)) return candidate;
  }
}

function uniqueId(kind: NodeKind, nodes: FlowNode[]): string {
  const taken = new Set(nodes.map((node) => node.id));
  for (let i = 1; ; i += 1) {
    const candidate = `${kind}_${i}`;
    if (!taken.has(candidate)) return candidate;
  }
}

/** Why an edge cannot be drawn, or null when it can. */
export function connectionProblem(
  nodes: FlowNode[],
  edges: FlowEdge[],
  connection: Connection,
): string | null {
  const source = nodes.find((node) => node.id === connection.source);
  const target = nodes.find((node) => node.id === connection.target);
  if (!source || !target) return 'Both ends must be nodes on the canvas';
  if (target.type === 'trigger') return 'A trigger cannot receive messages';
  if (target.type === 'note' || source.type === 'note') return 'Sticky notes do not connect';
  const sourceInfo = KINDS[source.type as NodeKind];
  const isError = connection.sourceHandle === ERROR_HANDLE;
  if (isError && !sourceInfo?.hasErrorOutput) return `${sourceInfo?.label ?? 'This node'} cannot route errors`;
  if (!isError && !sourceInfo?.hasOutput) return `${sourceInfo?.label ?? 'This node'} has no peers`;
  if (source.id === target.id && (source.type !== 'loop' || isError)) return 'Only a Loop can send to itself';
  const handle = connection.sourceHandle || null;
  if (
    edges.some(
      (edge) => edge.source === source.id && edge.target === target.id && (edge.sourceHandle || null) === handle,
    )
  ) {
    return 'These nodes are already connected';
  }
  return null;
}

function snapshot(state: EditorState): Snapshot {
  return { nodes: state.nodes, edges: state.edges, settings: state.settings, yaml: state.yaml };
}

function roleAndName(node: FlowNode): string {
  return `${node.type === 'trigger' ? 'trigger' : 'listener'}:${node.data.name}`;
}

/** Applies a content change: records history (unless coalesced), clears redo, bumps the revision. */
function commit(
  state: EditorState,
  next: Snapshot,
  origin: ChangeOrigin,
  coalesceKey: string | null = null,
): EditorState {
  const coalesce = coalesceKey !== null && coalesceKey === state.coalesceKey;
  const past = coalesce ? state.past : [...state.past, snapshot(state)].slice(-HISTORY_LIMIT);
  const settings = 'settings' in next ? next.settings : state.settings;
  return {
    ...state,
    nodes: next.nodes,
    edges: next.edges,
    settings,
    // Moving nodes leaves the YAML as it is; any other edit compiles new text.
    yaml: semanticKey(next.nodes, next.edges, settings) === semanticKey(state.nodes, state.edges, state.settings)
      ? state.yaml
      : undefined,
    past,
    future: [],
    coalesceKey,
    revision: state.revision + 1,
    origin,
  };
}

function removeElements(state: EditorState, nodeIds: string[], edgeIds: string[]): EditorState {
  const dropNodes = new Set(nodeIds);
  const dropEdges = new Set(edgeIds);
  const nodes = state.nodes.filter((node) => !dropNodes.has(node.id));
  const edges = state.edges.filter(
    (edge) => !dropEdges.has(edge.id) && !dropNodes.has(edge.source) && !dropNodes.has(edge.target),
  );
  if (nodes.length === state.nodes.length && edges.length === state.edges.length) return state;
  return commit(state, { nodes, edges }, 'canvas');
}

function renameReferences(nodes: FlowNode[], oldName: string, newName: string): FlowNode[] {
  return nodes.map((node) => {
    if (node.type !== 'branch') return node;
    const config = (node.data.config ?? {}) as Record<string, unknown>;
    const cases = Array.isArray(config.cases) ? (config.cases as Record<string, unknown>[]) : [];
    let changed = false;
    const nextCases = cases.map((item) => {
      if (item && item.to === oldName) {
        changed = true;
        return { ...item, to: newName };
      }
      return item;
    });
    const nextConfig: Record<string, unknown> = { ...config, cases: nextCases };
    if (config.default === oldName) {
      nextConfig.default = newName;
      changed = true;
    }
    return changed ? { ...node, data: { ...node.data, config: nextConfig } } : node;
  });
}

// ---------------------------------------------------------------- reducer

export function editorReducer(state: EditorState, action: EditorAction): EditorState {
  switch (action.type) {
    case 'load': {
      const next = createEditorState(action.canvas);
      return { ...next, revision: state.revision + 1 };
    }

    case 'paste': {
      const idMap = new Map<string, string>();
      const added: FlowNode[] = [];
      let all = state.nodes.map((n) => (n.selected ? { ...n, selected: false } : n));
      for (const original of action.clip.nodes) {
        const kind = original.type as NodeKind;
        const id = uniqueId(kind, all);
        const name = kind === 'note' ? id : uniqueName(original.data.name, all);
        idMap.set(original.id, id);
        const node: FlowNode = {
          id,
          type: kind,
          position: {
            x: Math.round(original.position.x + action.offset.x),
            y: Math.round(original.position.y + action.offset.y),
          },
          data: { ...structuredClone(original.data), name },
          selected: true,
        };
        added.push(node);
        all = [...all, node];
      }
      const edges = action.clip.edges
        .filter((edge) => idMap.has(edge.source) && idMap.has(edge.target))
        .map((edge) => {
          const source = idMap.get(edge.source) as string;
          const target = idMap.get(edge.target) as string;
          const copy: FlowEdge = { id: edgeId(source, target, edge.sourceHandle ?? null), source, target };
          if (edge.sourceHandle) copy.sourceHandle = edge.sourceHandle;
          return copy;
        });
      if (!added.length) return state;
      return commit(state, { nodes: all, edges: [...state.edges, ...edges] }, 'canvas');
    }

    case 'addNode': {
      const id = uniqueId(action.kind, state.nodes);
      const name = action.kind === 'note' ? id : uniqueName(action.kind, state.nodes);
      const wanted = { x: Math.round(action.position.x), y: Math.round(action.position.y) };
      const node: FlowNode = {
        id,
        type: action.kind,
        position: action.avoidOverlap ? freePosition(wanted, state.nodes) : wanted,
        data: { ...defaultData(action.kind, name), ...(action.data ?? {}), name },
        selected: true,
      };
      const nodes = [...state.nodes.map((n) => (n.selected ? { ...n, selected: false } : n)), node];
      const edges = action.kind === 'loop' ? [...state.edges, { id: edgeId(id, id), source: id, target: id }] : state.edges;
      return commit(state, { nodes, edges }, 'canvas');
    }

    case 'remove':
      return removeElements(state, action.nodeIds ?? [], action.edgeIds ?? []);

    case 'connect': {
      const { connection } = action;
      if (connectionProblem(state.nodes, state.edges, connection)) return state;
      const source = state.nodes.find((node) => node.id === connection.source) as FlowNode;
      const handle = connection.sourceHandle || null;
      let edges = state.edges;
      if (source.type === 'trigger') {
        // A trigger has exactly one target: drawing a new edge replaces the old one.
        edges = edges.filter((edge) => edge.source !== source.id);
      } else if (handle === ERROR_HANDLE) {
        // on_error names one peer.
        edges = edges.filter((edge) => !(edge.source === source.id && edge.sourceHandle === ERROR_HANDLE));
      }
      const edge: FlowEdge = { id: edgeId(connection.source, connection.target, handle), source: connection.source, target: connection.target };
      if (handle) edge.sourceHandle = handle;
      return commit(state, { nodes: state.nodes, edges: [...edges, edge] }, 'canvas');
    }

    case 'nodesChange': {
      const removals = action.changes.filter((change) => change.type === 'remove').map((change) => change.id);
      let next = removals.length ? removeElements(state, removals, []) : state;
      const rest = action.changes.filter((change) => change.type !== 'remove');
      if (!rest.length) return next;
      const moves = rest.filter((change) => change.type === 'position' && change.position);
      const structural = rest.filter((change) => change.type === 'add' || change.type === 'replace');
      const nodes = applyNodeChanges(rest, next.nodes);
      if (structural.length) return commit(next, { nodes, edges: next.edges }, 'canvas');
      if (moves.length) {
        const key = `move:${moves.map((change) => (change as { id: string }).id).sort().join(',')}`;
        return commit(next, { nodes, edges: next.edges }, 'canvas', key);
      }
      // Selection and measurements: not content, not history.
      next = { ...next, nodes };
      return next;
    }

    case 'edgesChange': {
      const removals = action.changes.filter((change) => change.type === 'remove').map((change) => change.id);
      const next = removals.length ? removeElements(state, [], removals) : state;
      const rest = action.changes.filter((change) => change.type === 'select');
      if (!rest.length) return next;
      return { ...next, edges: applyEdgeChanges(rest, next.edges) };
    }

    case 'beginDrag':
      return { ...state, coalesceKey: null };

    case 'updateNodeData': {
      const node = state.nodes.find((n) => n.id === action.id);
      if (!node) return state;
      const data = { ...node.data, ...action.patch } as NodeData;
      for (const [key, value] of Object.entries(action.patch)) {
        if (value === undefined) delete data[key];
      }
      if (JSON.stringify(data) === JSON.stringify(node.data)) return state;
      let nodes = state.nodes.map((n) => (n.id === action.id ? { ...n, data } : n));
      if (typeof action.patch.name === 'string' && action.patch.name !== node.data.name) {
        nodes = renameReferences(nodes, node.data.name, action.patch.name);
      }
      return commit(state, { nodes, edges: state.edges }, 'canvas', action.coalesceKey ?? null);
    }

    case 'select': {
      const nodes = state.nodes.map((node) => {
        const selected = node.id === action.id;
        return Boolean(node.selected) === selected ? node : { ...node, selected };
      });
      const edges = state.edges.map((edge) => (edge.selected ? { ...edge, selected: false } : edge));
      return { ...state, nodes, edges };
    }

    case 'setViewport':
      return { ...state, viewport: action.viewport };

    case 'applyParsed': {
      const parsed = fromCanvasJson(action.canvas);
      // The server names nodes by role and name; keep selection and measurements across the rename of ids.
      const byId = new Map(state.nodes.map((node) => [node.id, node]));
      const byName = new Map(state.nodes.map((node) => [roleAndName(node), node]));
      const matched = new Set<FlowNode>();
      const pairs = parsed.nodes.map((node) => {
        const old = byId.get(node.id) ?? byName.get(roleAndName(node));
        if (old) matched.add(old);
        return [node, old] as const;
      });
      // A node that appears while one of its type disappears was renamed in the YAML: it keeps its place.
      const orphans = state.nodes.filter((node) => !matched.has(node));
      const nodes = pairs.map(([node, old]) => {
        if (old) return { ...node, selected: old.selected, measured: old.measured };
        const index = orphans.findIndex((orphan) => orphan.type === node.type);
        if (index < 0) return node;
        const [orphan] = orphans.splice(index, 1);
        return { ...node, position: orphan.position, selected: orphan.selected, measured: orphan.measured };
      });
      if (contentKey(nodes, parsed.edges, parsed.settings) === contentKey(state.nodes, state.edges, state.settings)) {
        return state;
      }
      const before = { ...state, yaml: action.previousYaml ?? state.yaml };
      return {
        ...commit(before, { nodes, edges: parsed.edges, settings: parsed.settings }, 'yaml'),
        yaml: action.yaml,
      };
    }

    case 'undo': {
      if (!state.past.length) return state;
      const previous = state.past[state.past.length - 1];
      return {
        ...state,
        nodes: previous.nodes,
        edges: previous.edges,
        settings: previous.settings,
        yaml: previous.yaml,
        past: state.past.slice(0, -1),
        future: [snapshot(state), ...state.future],
        coalesceKey: null,
        revision: state.revision + 1,
        origin: 'history',
      };
    }

    case 'redo': {
      if (!state.future.length) return state;
      const [next, ...future] = state.future;
      return {
        ...state,
        nodes: next.nodes,
        edges: next.edges,
        settings: next.settings,
        yaml: next.yaml,
        past: [...state.past, snapshot(state)],
        future,
        coalesceKey: null,
        revision: state.revision + 1,
        origin: 'history',
      };
    }

    case 'markSaved':
      return { ...state, savedKey: action.key ?? contentKey(state.nodes, state.edges, state.settings) };
  }
}
