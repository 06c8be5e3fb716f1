import { describe, expect, it } from 'vitest';
import type { CanvasJson } from '../api/types';
import {
  HISTORY_LIMIT,
  canRedo,
  canUndo,
  connectionProblem,
  createEditorState,
  editorReducer,
  isDirty,
  peerNames,
  selectedNode,
  semanticKey,
  toCanvasJson,
  type EditorAction,
  type EditorState,
} from './store';

function run(state: EditorState, ...actions: EditorAction[]): EditorState {
  return actions.reduce(editorReducer, state);
}

function threeNodes(): EditorState {
  return run(
    createEditorState(),
    { type: 'addNode', kind: 'trigger', position: { x: 0, y: 0 } },
    { type: 'addNode', kind: 'transform', position: { x: 200, y: 0 } },
    { type: 'addNode', kind: 'output', position: { x: 400, y: 0 } },
  );
}

const byName = (state: EditorState, name: string) => state.nodes.find((node) => node.data.name === name)!;

describe('adding nodes', () => {
  it('adds a node with defaults, a unique id and name, and selects it', () => {
    const state = run(
      createEditorState(),
      { type: 'addNode', kind: 'transform', position: { x: 10.4, y: 20.6 } },
      { type: 'addNode', kind: 'transform', position: { x: 50, y: 50 } },
    );
    expect(state.nodes.map((node) => node.id)).toEqual(['transform_1', 'transform_2']);
    expect(state.nodes.map((node) => node.data.name)).toEqual(['transform', 'transform_2']);
    expect(state.nodes[0].position).toEqual({ x: 10, y: 21 });
    expect(state.nodes[0].data.config).toEqual({ expression: 'payload' });
    expect(selectedNode(state)?.id).toBe('transform_2');
    expect(isDirty(state)).toBe(true);
  });

  it('gives a loop its self-edge and a bound', () => {
    const state = run(createEditorState(), { type: 'addNode', kind: 'loop', position: { x: 0, y: 0 } });
    expect(state.edges).toEqual([{ id: 'e-loop_1-loop_1', source: 'loop_1', target: 'loop_1' }]);
    expect(state.nodes[0].data.max_iterations).toBe(5);
  });

  it('defaults a trigger to manual', () => {
    const state = run(createEditorState(), { type: 'addNode', kind: 'trigger', position: { x: 0, y: 0 } });
    expect(state.nodes[0].data).toEqual({ name: 'trigger', kind: 'manual' });
  });
});

describe('edges', () => {
  it('connects listeners as peers and refuses duplicates', () => {
    let state = threeNodes();
    state = run(state, { type: 'connect', connection: { source: 'transform_1', target: 'output_1' } });
    expect(state.edges).toHaveLength(1);
    const again = run(state, { type: 'connect', connection: { source: 'transform_1', target: 'output_1' } });
    expect(again).toBe(state);
    expect(peerNames('transform_1', state.nodes, state.edges)).toEqual(['output']);
  });

  it('refuses edges into a trigger, out of an output, and self-edges except on loops', () => {
    const state = threeNodes();
    expect(connectionProblem(state.nodes, state.edges, { source: 'transform_1', target: 'trigger_1' })).toMatch(/trigger/);
    expect(connectionProblem(state.nodes, state.edges, { source: 'output_1', target: 'transform_1' })).toMatch(/no peers/);
    expect(connectionProblem(state.nodes, state.edges, { source: 'transform_1', target: 'transform_1' })).toMatch(/Loop/);
    expect(connectionProblem(state.nodes, state.edges, { source: 'nope', target: 'transform_1' })).not.toBeNull();
    expect(run(state, { type: 'connect', connection: { source: 'transform_1', target: 'trigger_1' } })).toBe(state);
  });

  it('keeps one target per trigger and one error peer per listener', () => {
    let state = run(threeNodes(), { type: 'addNode', kind: 'http', position: { x: 0, y: 200 } });
    state = run(
      state,
      { type: 'connect', connection: { source: 'trigger_1', target: 'transform_1' } },
      { type: 'connect', connection: { source: 'trigger_1', target: 'http_1' } },
    );
    expect(state.edges.filter((edge) => edge.source === 'trigger_1').map((edge) => edge.target)).toEqual(['http_1']);
    state = run(
      state,
      { type: 'connect', connection: { source: 'transform_1', target: 'output_1', sourceHandle: 'error' } },
      { type: 'connect', connection: { source: 'transform_1', target: 'http_1', sourceHandle: 'error' } },
    );
    const errorEdges = state.edges.filter((edge) => edge.sourceHandle === 'error');
    expect(errorEdges).toEqual([
      { id: 'e-transform_1-error-http_1', source: 'transform_1', target: 'http_1', sourceHandle: 'error' },
    ]);
    // error edges are not peers
    expect(peerNames('transform_1', state.nodes, state.edges)).toEqual([]);
  });

  it('removes a node together with its edges', () => {
    let state = run(
      threeNodes(),
      { type: 'connect', connection: { source: 'trigger_1', target: 'transform_1' } },
      { type: 'connect', connection: { source: 'transform_1', target: 'output_1' } },
    );
    state = run(state, { type: 'remove', nodeIds: ['transform_1'] });
    expect(state.nodes.map((node) => node.id)).toEqual(['trigger_1', 'output_1']);
    expect(state.edges).toEqual([]);
  });

  it('removes selected elements from React Flow change events (keyboard delete)', () => {
    let state = run(
      threeNodes(),
      { type: 'connect', connection: { source: 'trigger_1', target: 'transform_1' } },
      { type: 'connect', connection: { source: 'transform_1', target: 'output_1' } },
    );
    state = run(state, { type: 'edgesChange', changes: [{ type: 'remove', id: 'e-trigger_1-transform_1' }] });
    expect(state.edges.map((edge) => edge.id)).toEqual(['e-transform_1-output_1']);
    state = run(state, { type: 'nodesChange', changes: [{ type: 'remove', id: 'output_1' }] });
    expect(state.nodes).toHaveLength(2);
    expect(state.edges).toHaveLength(0);
  });
});

describe('undo and redo', () => {
  it('walks back and forth through content changes', () => {
    const state = threeNodes();
    expect(canUndo(state)).toBe(true);
    const undone = run(state, { type: 'undo' });
    expect(undone.nodes.map((node) => node.id)).toEqual(['trigger_1', 'transform_1']);
    expect(canRedo(undone)).toBe(true);
    const redone = run(undone, { type: 'redo' });
    expect(redone.nodes.map((node) => node.id)).toEqual(['trigger_1', 'transform_1', 'output_1']);
    const all = run(state, { type: 'undo' }, { type: 'undo' }, { type: 'undo' }, { type: 'undo' });
    expect(all.nodes).toEqual([]);
    expect(canUndo(all)).toBe(false);
  });

  it('drops the redo stack on a new change', () => {
    const state = run(threeNodes(), { type: 'undo' }, { type: 'addNode', kind: 'http', position: { x: 0, y: 0 } });
    expect(canRedo(state)).toBe(false);
  });

  it('makes one undo step of consecutive typing in one field', () => {
    let state = threeNodes();
    const before = state.past.length;
    for (const name of ['s', 'sh', 'sha', 'shape']) {
      state = run(state, { type: 'updateNodeData', id: 'transform_1', patch: { name }, coalesceKey: 'transform_1:name' });
    }
    expect(state.past.length).toBe(before + 1);
    expect(byName(state, 'shape')).toBeDefined();
    const undone = run(state, { type: 'undo' });
    expect(byName(undone, 'transform')).toBeDefined();
  });

  it('makes one undo step of a drag and separates drags', () => {
    let state = threeNodes();
    const before = state.past.length;
    state = run(state, { type: 'beginDrag' });
    for (const x of [10, 20, 30]) {
      state = run(state, { type: 'nodesChange', changes: [{ type: 'position', id: 'output_1', position: { x, y: 0 }, dragging: true }] });
    }
    state = run(state, { type: 'beginDrag' });
    state = run(state, { type: 'nodesChange', changes: [{ type: 'position', id: 'output_1', position: { x: 99, y: 0 }, dragging: true }] });
    expect(state.past.length).toBe(before + 2);
    expect(run(state, { type: 'undo' }).nodes[2].position.x).toBe(30);
  });

  it('does not record selection or measurements', () => {
    const state = threeNodes();
    const next = run(
      state,
      { type: 'select', id: 'trigger_1' },
      { type: 'nodesChange', changes: [{ type: 'dimensions', id: 'trigger_1', dimensions: { width: 100, height: 40 } }] },
    );
    expect(next.past.length).toBe(state.past.length);
    expect(next.revision).toBe(state.revision);
    expect(selectedNode(next)?.id).toBe('trigger_1');
  });

  it('bounds the history', () => {
    let state = createEditorState();
    for (let i = 0; i < HISTORY_LIMIT + 20; i += 1) {
      state = run(state, { type: 'addNode', kind: 'output', position: { x: i, y: 0 } });
    }
    expect(state.past.length).toBe(HISTORY_LIMIT);
  });
});

describe('node data', () => {
  it('renames branch references when a peer is renamed', () => {
    let state = run(
      createEditorState(),
      { type: 'addNode', kind: 'branch', position: { x: 0, y: 0 } },
      { type: 'addNode', kind: 'output', position: { x: 200, y: 0 } },
      { type: 'connect', connection: { source: 'branch_1', target: 'output_1' } },
      { type: 'updateNodeData', id: 'branch_1', patch: { config: { cases: [{ when: 'payload.x', to: 'output' }], default: 'output' } } },
      { type: 'updateNodeData', id: 'output_1', patch: { name: 'done' } },
    );
    expect(byName(state, 'branch').data.config).toEqual({ cases: [{ when: 'payload.x', to: 'done' }], default: 'done' });
    state = run(state, { type: 'updateNodeData', id: 'output_1', patch: { name: 'done' } });
    expect(state.past.length).toBeGreaterThan(0);
  });

  it('deletes keys patched to undefined and ignores no-op patches', () => {
    let state = run(createEditorState(), { type: 'addNode', kind: 'llm', position: { x: 0, y: 0 } });
    state = run(state, { type: 'updateNodeData', id: 'llm_1', patch: { description: 'hi' } });
    expect(state.nodes[0].data.description).toBe('hi');
    state = run(state, { type: 'updateNodeData', id: 'llm_1', patch: { description: undefined } });
    expect('description' in state.nodes[0].data).toBe(false);
    expect(run(state, { type: 'updateNodeData', id: 'llm_1', patch: { name: 'llm' } })).toBe(state);
  });
});

describe('canvas JSON, saving and YAML', () => {
  const canvas: CanvasJson = {
    nodes: [
      { id: 'a', type: 'trigger', position: { x: 0, y: 0 }, data: { name: 'inbound', kind: 'webhook' } },
      { id: 'b', type: 'transform', position: { x: 200, y: 10 }, data: { name: 'shape', config: { expression: 'payload' } } },
    ],
    edges: [
      { id: 'e1', source: 'a', target: 'b' },
      { id: 'dangling', source: 'a', target: 'missing' },
    ],
    viewport: { x: 5, y: 6, zoom: 1.5 },
  };

  it('loads clean and round-trips to JSON without dangling edges', () => {
    const state = run(createEditorState(), { type: 'load', canvas });
    expect(isDirty(state)).toBe(false);
    expect(canUndo(state)).toBe(false);
    expect(toCanvasJson(state)).toEqual({ ...canvas, edges: [canvas.edges[0]] });
  });

  it('tracks dirtiness against the last save', () => {
    let state = run(createEditorState(), { type: 'load', canvas });
    state = run(state, { type: 'updateNodeData', id: 'b', patch: { description: 'x' } });
    expect(isDirty(state)).toBe(true);
    state = run(state, { type: 'markSaved' });
    expect(isDirty(state)).toBe(false);
    state = run(state, { type: 'setViewport', viewport: { x: 1, y: 1, zoom: 2 } }, { type: 'select', id: 'a' });
    expect(isDirty(state)).toBe(false);
  });

  it('applies a parsed canvas as one undoable YAML change, keeping selection', () => {
    let state = run(createEditorState(), { type: 'load', canvas }, { type: 'select', id: 'b' });
    const renamed: CanvasJson = {
      ...canvas,
      nodes: [canvas.nodes[0], { ...canvas.nodes[1], data: { name: 'reshape', config: { expression: 'payload' } } }],
    };
    state = run(state, { type: 'applyParsed', canvas: renamed });
    expect(state.origin).toBe('yaml');
    expect(byName(state, 'reshape').selected).toBe(true);
    expect(run(state, { type: 'applyParsed', canvas: renamed })).toBe(state);
    expect(byName(run(state, { type: 'undo' }), 'shape')).toBeDefined();
  });

  it('ignores positions in the semantic key', () => {
    const state = run(createEditorState(), { type: 'load', canvas });
    const moved = run(state, { type: 'nodesChange', changes: [{ type: 'position', id: 'a', position: { x: 50, y: 50 } }] });
    expect(semanticKey(moved.nodes, moved.edges)).toBe(semanticKey(state.nodes, state.edges));
    expect(isDirty(moved)).toBe(true);
  });

  it('keeps a node in place when the YAML renames it (the server gives it a new id)', () => {
    let state = run(createEditorState(), { type: 'load', canvas }, { type: 'select', id: 'b' });
    const renamed: CanvasJson = {
      nodes: [
        { id: 'trigger:inbound', type: 'trigger', position: { x: 0, y: 0 }, data: { name: 'inbound', kind: 'webhook' } },
        { id: 'listener:reshape', type: 'transform', position: { x: 600, y: 450 }, data: { name: 'reshape', config: { expression: 'payload' } } },
      ],
      edges: [{ id: 'trigger:inbound->reshape', source: 'trigger:inbound', target: 'listener:reshape' }],
      viewport: canvas.viewport,
    };
    state = run(state, { type: 'applyParsed', canvas: renamed });
    const node = byName(state, 'reshape');
    expect(node.id).toBe('listener:reshape');
    expect(node.position).toEqual({ x: 200, y: 10 });
    expect(node.selected).toBe(true);
  });

  it('carries organism settings (memory, limits) through edits, YAML and undo', () => {
    const settings = { memory: { project: false }, limits: { max_steps: 1000, timeout_seconds: 300 } };
    let state = run(createEditorState(), { type: 'load', canvas: { ...canvas, settings } });
    expect(toCanvasJson(state).settings).toEqual(settings);
    state = run(state, { type: 'addNode', kind: 'output', position: { x: 0, y: 0 } });
    expect(toCanvasJson(state).settings).toEqual(settings);
    const tighter = { ...settings, limits: { max_steps: 10, timeout_seconds: 30 } };
    state = run(state, { type: 'applyParsed', canvas: { ...toCanvasJson(state), settings: tighter } });
    expect(state.settings).toEqual(tighter);
    expect(isDirty(state)).toBe(true);
    state = run(state, { type: 'undo' });
    expect(state.settings).toEqual(settings);
  });
});
