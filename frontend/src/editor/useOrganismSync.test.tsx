import { act, renderHook } from '@testing-library/react';
import { useReducer } from 'react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CanvasJson } from '../api/types';
import { mockFetch } from '../test/helpers';
import { createEditorState, editorReducer } from './store';
import { COMPILE_DEBOUNCE_MS, PARSE_DEBOUNCE_MS, useOrganismSync } from './useOrganismSync';

const canvas: CanvasJson = {
  nodes: [
    { id: 't', type: 'trigger', position: { x: 0, y: 0 }, data: { name: 'run', kind: 'manual' } },
    { id: 'a', type: 'transform', position: { x: 200, y: 0 }, data: { name: 'shape', config: { expression: 'payload' } } },
  ],
  edges: [{ id: 'e1', source: 't', target: 'a' }],
  viewport: { x: 0, y: 0, zoom: 1 },
};

function useHarness(initialYaml: string) {
  const [state, dispatch] = useReducer(editorReducer, canvas, createEditorState);
  const sync = useOrganismSync({ state, dispatch, flowName: 'demo', initialYaml, enabled: true });
  return { state, dispatch, sync };
}

async function advance(ms: number) {
  await act(async () => {
    await vi.advanceTimersByTimeAsync(ms);
  });
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe('canvas → YAML', () => {
  it('keeps the stored YAML on load and compiles for problems only', async () => {
    const calls = mockFetch([
      { method: 'POST', path: '/api/organism/compile', body: { yaml: 'compiled: 1\n', problems: [{ path: 'x', message: 'm', node_id: 'a' }] } },
    ]);
    const { result } = renderHook(() => useHarness('# stored\n'));
    await advance(COMPILE_DEBOUNCE_MS + 10);
    expect(calls).toHaveLength(1);
    expect(calls[0].body).toMatchObject({ name: 'demo', canvas: { nodes: expect.any(Array) } });
    expect(result.current.sync.yamlText).toBe('# stored\n');
    expect(result.current.sync.compileProblems).toEqual([{ path: 'x', message: 'm', node_id: 'a' }]);
  });

  it('replaces the YAML after a canvas edit, debounced into one call', async () => {
    const calls = mockFetch([
      { method: 'POST', path: '/api/organism/compile', body: ({ body }: { body: unknown }) => ({ yaml: `n: ${(body as { canvas: CanvasJson }).canvas.nodes.length}\n`, problems: [] }) },
    ]);
    const { result } = renderHook(() => useHarness('# stored\n'));
    await advance(COMPILE_DEBOUNCE_MS + 10);
    act(() => {
      result.current.dispatch({ type: 'addNode', kind: 'output', position: { x: 0, y: 0 } });
      result.current.dispatch({ type: 'addNode', kind: 'output', position: { x: 0, y: 0 } });
    });
    await advance(COMPILE_DEBOUNCE_MS + 10);
    expect(calls).toHaveLength(2);
    expect(result.current.sync.yamlText).toBe('n: 4\n');
    expect(result.current.sync.yamlSource).toBe('compiled');
  });

  it('keeps the last good YAML and says so while the canvas does not compile', async () => {
    mockFetch([
      { method: 'POST', path: '/api/organism/compile', body: { yaml: null, problems: [{ path: 'nodes[0]', message: 'not connected', node_id: 't' }] } },
    ]);
    const { result } = renderHook(() => useHarness('good: yaml\n'));
    act(() => {
      result.current.dispatch({ type: 'addNode', kind: 'output', position: { x: 0, y: 0 } });
    });
    await advance(COMPILE_DEBOUNCE_MS + 10);
    expect(result.current.sync.yamlText).toBe('good: yaml\n');
    expect(result.current.sync.yamlStale).toBe(true);
    expect(result.current.sync.problems[0].node_id).toBe('t');
    act(() => result.current.sync.onYamlChange('typed'));
    expect(result.current.sync.yamlStale).toBe(false);
  });

  it('does not call the server when nodes only move', async () => {
    const calls = mockFetch([{ method: 'POST', path: '/api/organism/compile', body: { yaml: 'y', problems: [] } }]);
    const { result } = renderHook(() => useHarness('y'));
    await advance(COMPILE_DEBOUNCE_MS + 10);
    act(() => {
      result.current.dispatch({ type: 'nodesChange', changes: [{ type: 'position', id: 'a', position: { x: 500, y: 500 } }] });
    });
    await advance(COMPILE_DEBOUNCE_MS + 10);
    expect(calls).toHaveLength(1);
  });
});

describe('YAML → canvas', () => {
  it('parses typed YAML and applies the canvas, keeping the typed text', async () => {
    const renamed: CanvasJson = {
      ...canvas,
      nodes: [canvas.nodes[0], { ...canvas.nodes[1], data: { name: 'reshape', config: { expression: 'payload' } } }],
    };
    const calls = mockFetch([
      { method: 'POST', path: '/api/organism/compile', body: { yaml: 'from-canvas', problems: [] } },
      { method: 'POST', path: '/api/organism/parse', body: { canvas: renamed, problems: [] } },
    ]);
    const { result } = renderHook(() => useHarness('stored'));
    await advance(COMPILE_DEBOUNCE_MS + 10);
    act(() => result.current.sync.onYamlChange('typed: r'));
    act(() => result.current.sync.onYamlChange('typed: reshape'));
    await advance(PARSE_DEBOUNCE_MS + 10);
    const parses = calls.filter((call) => call.url === '/api/organism/parse');
    expect(parses).toHaveLength(1);
    expect(parses[0].body).toMatchObject({ yaml: 'typed: reshape', canvas: { nodes: expect.any(Array) } });
    expect(result.current.state.nodes[1].data.name).toBe('reshape');
    expect(result.current.state.origin).toBe('yaml');
    await advance(COMPILE_DEBOUNCE_MS + 10);
    // the compile after a YAML edit updates badges but never overwrites what the user typed
    expect(result.current.sync.yamlText).toBe('typed: reshape');
  });

  it('brings hand-written YAML back as written on undo and redo of a YAML edit', async () => {
    const renamed: CanvasJson = {
      ...canvas,
      nodes: [canvas.nodes[0], { ...canvas.nodes[1], data: { name: 'reshape', config: { expression: 'payload' } } }],
    };
    mockFetch([
      { method: 'POST', path: '/api/organism/compile', body: { yaml: 'compiled: drops comments\n', problems: [] } },
      { method: 'POST', path: '/api/organism/parse', body: { canvas: renamed, problems: [] } },
    ]);
    const { result } = renderHook(() => useHarness('# stored as written\n'));
    await advance(COMPILE_DEBOUNCE_MS + 10);
    act(() => result.current.sync.onYamlChange('# pasted\nname: reshape\n'));
    await advance(PARSE_DEBOUNCE_MS + COMPILE_DEBOUNCE_MS + 20);
    expect(result.current.state.nodes[1].data.name).toBe('reshape');

    act(() => result.current.dispatch({ type: 'undo' }));
    await advance(COMPILE_DEBOUNCE_MS + 10);
    expect(result.current.state.nodes[1].data.name).toBe('shape');
    expect(result.current.sync.yamlText).toBe('# stored as written\n');

    act(() => result.current.dispatch({ type: 'redo' }));
    await advance(COMPILE_DEBOUNCE_MS + 10);
    expect(result.current.sync.yamlText).toBe('# pasted\nname: reshape\n');

    // a canvas edit compiles new text, and undoing it brings the pasted text back
    act(() => result.current.dispatch({ type: 'addNode', kind: 'output', position: { x: 0, y: 0 } }));
    await advance(COMPILE_DEBOUNCE_MS + 10);
    expect(result.current.sync.yamlText).toBe('compiled: drops comments\n');
    act(() => result.current.dispatch({ type: 'undo' }));
    await advance(COMPILE_DEBOUNCE_MS + 10);
    expect(result.current.sync.yamlText).toBe('# pasted\nname: reshape\n');
  });

  it('never lets a compile that started before typing overwrite the typed text', async () => {
    let answer: (value: Response) => void = () => undefined;
    mockFetch([{ method: 'POST', path: '/api/organism/parse', body: { canvas, problems: [] } }]);
    const fetchParse = globalThis.fetch;
    vi.stubGlobal(
      'fetch',
      vi.fn((input: RequestInfo | URL, init?: RequestInit) =>
        String(input).startsWith('/api/organism/compile')
          ? new Promise<Response>((resolve) => {
              answer = resolve;
            })
          : fetchParse(input, init),
      ),
    );
    const { result } = renderHook(() => useHarness('stored\n'));
    act(() => result.current.dispatch({ type: 'addNode', kind: 'output', position: { x: 0, y: 0 } }));
    await advance(COMPILE_DEBOUNCE_MS + 10); // the compile is in flight
    act(() => result.current.sync.onYamlChange('# pasted meanwhile\n'));
    await act(async () => {
      answer(new Response(JSON.stringify({ yaml: 'late: compile\n', problems: [] }), { status: 200, headers: { 'Content-Type': 'application/json' } }));
      await vi.advanceTimersByTimeAsync(10);
    });
    expect(result.current.sync.yamlText).toBe('# pasted meanwhile\n');
  });

  it('shows parse problems and keeps the canvas when the YAML is broken', async () => {
    mockFetch([
      { method: 'POST', path: '/api/organism/compile', body: { yaml: 'ok', problems: [] } },
      { method: 'POST', path: '/api/organism/parse', body: { canvas: null, problems: [{ path: 'listeners', message: 'bad indent', line: 3 }] } },
    ]);
    const { result } = renderHook(() => useHarness('ok'));
    await advance(COMPILE_DEBOUNCE_MS + 10);
    act(() => result.current.sync.onYamlChange('listeners:\n - name: [\n'));
    await advance(PARSE_DEBOUNCE_MS + 10);
    expect(result.current.sync.parseProblems[0].line).toBe(3);
    expect(result.current.state.nodes).toHaveLength(2);
    let flushed: Awaited<ReturnType<typeof result.current.sync.flush>> | undefined;
    await act(async () => {
      flushed = await result.current.sync.flush();
    });
    expect(flushed).toMatchObject({ ok: false, message: expect.stringMatching(/YAML has 1 problem/) });
  });
});

describe('flush before saving', () => {
  it('compiles the current canvas', async () => {
    mockFetch([{ method: 'POST', path: '/api/organism/compile', body: { yaml: 'fresh\n', problems: [] } }]);
    const { result } = renderHook(() => useHarness(''));
    let flushed: Awaited<ReturnType<typeof result.current.sync.flush>> | undefined;
    await act(async () => {
      flushed = await result.current.sync.flush();
    });
    expect(flushed).toMatchObject({ ok: true, yaml: 'fresh\n', canvas: { nodes: expect.any(Array) } });
  });

  it('refuses when the canvas does not compile', async () => {
    mockFetch([{ method: 'POST', path: '/api/organism/compile', body: { yaml: null, problems: [{ path: 'a', message: 'm' }] } }]);
    const { result } = renderHook(() => useHarness(''));
    let flushed: Awaited<ReturnType<typeof result.current.sync.flush>> | undefined;
    await act(async () => {
      flushed = await result.current.sync.flush();
    });
    expect(flushed).toMatchObject({ ok: false, problems: [{ message: 'm' }] });
  });

  it('settles a pending parse and saves the typed YAML', async () => {
    mockFetch([
      { method: 'POST', path: '/api/organism/compile', body: { yaml: 'compiled', problems: [] } },
      { method: 'POST', path: '/api/organism/parse', body: { canvas, problems: [] } },
    ]);
    const { result } = renderHook(() => useHarness('stored'));
    act(() => result.current.sync.onYamlChange('# mine\n'));
    let flushed: Awaited<ReturnType<typeof result.current.sync.flush>> | undefined;
    await act(async () => {
      flushed = await result.current.sync.flush();
    });
    expect(flushed).toMatchObject({ ok: true, yaml: '# mine\n' });
  });
});
