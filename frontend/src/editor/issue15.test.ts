import { describe, expect, it } from 'vitest';
import { lineDiff } from './lineDiff';
import { dedupeProblems, describeProblem, flowWarnings } from './problems';
import { fieldPaths } from './runData';
import { copySelection, createEditorState, editorReducer, selectionIds, type EditorAction, type EditorState } from './store';

function run(state: EditorState, ...actions: EditorAction[]): EditorState {
  return actions.reduce(editorReducer, state);
}

function connected(): EditorState {
  return run(
    createEditorState(),
    { type: 'addNode', kind: 'trigger', position: { x: 0, y: 0 } },
    { type: 'addNode', kind: 'transform', position: { x: 300, y: 0 } },
    { type: 'connect', connection: { source: 'trigger_1', target: 'transform_1' } },
  );
}

describe('one user action is one undo step', () => {
  it('deleting a node with its edges undoes in one step', () => {
    let state = run(connected(), { type: 'select', id: 'transform_1' });
    state = run(state, { type: 'remove', ...selectionIds(state) });
    expect(state.nodes).toHaveLength(1);
    expect(state.edges).toHaveLength(0);
    state = run(state, { type: 'undo' });
    expect(state.nodes).toHaveLength(2);
    expect(state.edges).toHaveLength(1);
  });
});

describe('copy, paste, duplicate and placement', () => {
  it('pastes copies with new names, their inner edges, offset and selected', () => {
    let state = connected();
    state = { ...state, nodes: state.nodes.map((node) => ({ ...node, selected: true })) };
    const clip = copySelection(state)!;
    state = run(state, { type: 'paste', clip, offset: { x: 40, y: 40 } });
    expect(state.nodes.map((node) => node.data.name)).toEqual(['trigger', 'transform', 'trigger_2', 'transform_2']);
    expect(state.edges).toHaveLength(2);
    expect(state.nodes[3].position).toEqual({ x: 340, y: 40 });
    expect(state.nodes.filter((node) => node.selected).map((node) => node.data.name)).toEqual(['trigger_2', 'transform_2']);
    state = run(state, { type: 'undo' });
    expect(state.nodes).toHaveLength(2);
  });

  it('click-to-add never lands on another node', () => {
    let state = run(createEditorState(), { type: 'addNode', kind: 'transform', position: { x: 100, y: 100 }, avoidOverlap: true });
    state = run(state, { type: 'addNode', kind: 'output', position: { x: 100, y: 100 }, avoidOverlap: true });
    state = run(state, { type: 'addNode', kind: 'llm', position: { x: 110, y: 105 }, avoidOverlap: true });
    const [a, b, c] = state.nodes.map((node) => node.position);
    for (const [p, q] of [[a, b], [a, c], [b, c]]) {
      expect(Math.abs(p.x - q.x) >= 200 || Math.abs(p.y - q.y) >= 90).toBe(true);
    }
  });
});

describe('problems in a user words', () => {
  it('names nodes and fields, not internal paths, and lists each problem once', () => {
    const nodes = connected().nodes;
    expect(describeProblem({ path: 'nodes[1].data.config.expression', message: 'invalid' }, nodes)).toBe(
      'transform › expression: invalid',
    );
    expect(describeProblem({ path: 'listeners[0].peers[1]', message: 'unknown peer' })).toBe('step 1 › connections: unknown peer');
    const twice = [
      { path: 'a', message: 'same', node_id: 'n1' },
      { path: 'nodes[0]', message: 'same', node_id: 'n1', line: 3 },
    ];
    expect(dedupeProblems(twice)).toHaveLength(1);
    expect(flowWarnings([])).toHaveLength(2);
    expect(flowWarnings(nodes)).toEqual([]);
  });
});

describe('helpers', () => {
  it('diffs lines and lists field paths of a payload', () => {
    expect(lineDiff('a\nb\nc', 'a\nx\nc')).toEqual([
      { kind: 'same', text: 'a' },
      { kind: 'removed', text: 'b' },
      { kind: 'added', text: 'x' },
      { kind: 'same', text: 'c' },
    ]);
    expect(fieldPaths({ order: { total: 1, items: [{ sku: 'a' }] }, 'odd key': 1 })).toEqual([
      'payload',
      'payload.order',
      'payload.order.total',
      'payload.order.items',
      'payload.order.items[0]',
      'payload.order.items[0].sku',
      'payload."odd key"',
    ]);
  });
});
