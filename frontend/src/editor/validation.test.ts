import { describe, expect, it } from 'vitest';
import { createEditorState, editorReducer, type EditorAction, type EditorState } from './store';
import type { NodeKind } from './nodeKinds';
import { looksLikeCron, validateCanvas, validateNode } from './validation';

function run(...actions: EditorAction[]): EditorState {
  return actions.reduce(editorReducer, createEditorState());
}

function errorsOf(state: EditorState, id: string) {
  const node = state.nodes.find((n) => n.id === id)!;
  return validateNode(node, state.nodes, state.edges);
}

function add(kind: NodeKind): EditorAction {
  return { type: 'addNode', kind, position: { x: 0, y: 0 } };
}

describe('panel validation', () => {
  it('accepts the defaults of a connected flow', () => {
    const state = run(
      add('trigger'),
      add('transform'),
      add('output'),
      { type: 'connect', connection: { source: 'trigger_1', target: 'transform_1' } },
      { type: 'connect', connection: { source: 'transform_1', target: 'output_1' } },
    );
    expect(validateCanvas(state.nodes, state.edges).size).toBe(0);
  });

  it('checks names: required, pattern, unique', () => {
    let state = run(add('transform'), add('output'));
    state = editorReducer(state, { type: 'updateNodeData', id: 'output_1', patch: { name: '' } });
    expect(errorsOf(state, 'output_1').name).toMatch(/required/);
    state = editorReducer(state, { type: 'updateNodeData', id: 'output_1', patch: { name: '9lives' } });
    expect(errorsOf(state, 'output_1').name).toMatch(/starting with a letter/);
    state = editorReducer(state, { type: 'updateNodeData', id: 'output_1', patch: { name: 'transform' } });
    expect(errorsOf(state, 'output_1').name).toMatch(/listener is already named "transform"/);
    state = editorReducer(state, { type: 'updateNodeData', id: 'output_1', patch: { name: 'x'.repeat(64) } });
    expect(errorsOf(state, 'output_1').name).toMatch(/63/);
    // a trigger may share a listener's name
    state = editorReducer(state, { type: 'addNode', kind: 'trigger', position: { x: 0, y: 0 } });
    state = editorReducer(state, { type: 'updateNodeData', id: 'trigger_1', patch: { name: 'transform' } });
    expect(errorsOf(state, 'trigger_1').name).toBeUndefined();
  });

  it('asks a trigger for a target and a valid cron', () => {
    let state = run(add('trigger'));
    expect(errorsOf(state, 'trigger_1').target).toMatch(/Connect/);
    state = editorReducer(state, { type: 'updateNodeData', id: 'trigger_1', patch: { kind: 'schedule' } });
    expect(errorsOf(state, 'trigger_1').cron).toMatch(/needs a cron/);
    state = editorReducer(state, { type: 'updateNodeData', id: 'trigger_1', patch: { cron: 'every day' } });
    expect(errorsOf(state, 'trigger_1').cron).toMatch(/5 fields/);
    state = editorReducer(state, { type: 'updateNodeData', id: 'trigger_1', patch: { cron: '0 2 * * *' } });
    expect(errorsOf(state, 'trigger_1').cron).toBeUndefined();
  });

  it('checks handler settings per type', () => {
    let state = run(add('http'), add('llm'), add('code'), add('loop'), add('memory'));
    state = editorReducer(state, { type: 'updateNodeData', id: 'http_1', patch: { config: { method: 'FETCH', url: 'ftp://x' } } });
    expect(errorsOf(state, 'http_1')).toMatchObject({
      'config.url': expect.stringMatching(/http/),
      'config.method': expect.stringMatching(/Method/),
    });
    state = editorReducer(state, { type: 'updateNodeData', id: 'llm_1', patch: { config: { model: '', temperature: 3 } } });
    expect(Object.keys(errorsOf(state, 'llm_1')).sort()).toEqual(['config.model', 'config.prompt', 'config.temperature']);
    expect(errorsOf(state, 'code_1').handler).toMatch(/wasm:/);
    state = editorReducer(state, { type: 'updateNodeData', id: 'code_1', patch: { handler: 'wasm:summarize@1.0.0' } });
    expect(errorsOf(state, 'code_1').handler).toBeUndefined();
    state = editorReducer(state, { type: 'updateNodeData', id: 'loop_1', patch: { max_iterations: 0 } });
    expect(errorsOf(state, 'loop_1').max_iterations).toMatch(/at least 1/);
    state = editorReducer(state, { type: 'updateNodeData', id: 'memory_1', patch: { config: { op: 'set', key: 'k' } } });
    expect(errorsOf(state, 'memory_1')['config.value']).toMatch(/value/);
    state = editorReducer(state, { type: 'updateNodeData', id: 'http_1', patch: { timeout_seconds: -1 } });
    expect(errorsOf(state, 'http_1').timeout_seconds).toMatch(/positive/);
  });

  it('checks that branch cases point at connected peers', () => {
    let state = run(add('branch'), add('output'), { type: 'connect', connection: { source: 'branch_1', target: 'output_1' } });
    expect(errorsOf(state, 'branch_1')['config.cases']).toMatch(/Add a case/);
    state = editorReducer(state, {
      type: 'updateNodeData',
      id: 'branch_1',
      patch: { config: { cases: [{ when: 'payload.x', to: 'output' }, { when: '', to: 'elsewhere' }], default: 'nowhere' } },
    });
    const errors = errorsOf(state, 'branch_1');
    expect(errors['config.cases.0.to']).toBeUndefined();
    expect(errors['config.cases.1.when']).toMatch(/required/);
    expect(errors['config.cases.1.to']).toMatch(/"elsewhere" is not connected/);
    expect(errors['config.default']).toMatch(/"nowhere"/);
  });

  it('recognises cron expressions', () => {
    expect(looksLikeCron('*/5 * * * *')).toBe(true);
    expect(looksLikeCron('0 0 12 ? * MON-FRI')).toBe(true);
    expect(looksLikeCron('* * *')).toBe(false);
    expect(looksLikeCron('0 2 * * * ; rm')).toBe(false);
  });
});
