import { describe, expect, it } from 'vitest';
import { formatDuration, formatJson, formatRelative, isEmptyValue } from '../components/format';
import { safeNext } from '../pages/AuthPage';
import { stepBars } from '../pages/RunsPage';
import { nodeSummary } from './FlowNodeView';
import { parseLogEvent } from './LogPanel';
import type { FlowNode } from './nodeKinds';
import { describeProblem, problemMarkers, problemsByNode, problemsWithoutNode } from './problems';
import { parsePayload } from './RunDialog';

const nodes = [
  { id: 'a', type: 'transform', position: { x: 0, y: 0 }, data: { name: 'shape' } },
  { id: 'b', type: 'output', position: { x: 0, y: 0 }, data: { name: 'done' } },
] as FlowNode[];

describe('problems', () => {
  it('groups problems by node and keeps the rest', () => {
    const problems = [
      { path: 'listeners[0]', message: 'one', node_id: 'a' },
      { path: 'listeners[0].config', message: 'two', node_id: 'a' },
      { path: 'triggers', message: 'three' },
      { path: 'x', message: 'gone', node_id: 'zzz' },
    ];
    expect(problemsByNode(problems, nodes)).toEqual(new Map([['a', ['one', 'two']]]));
    expect(problemsWithoutNode(problems, nodes).map((p) => p.message)).toEqual(['three', 'gone']);
  });

  it('turns lines into clamped markers', () => {
    const markers = problemMarkers(
      [
        { path: 'a', message: 'm1', line: 2, column: 5 },
        { path: '', message: 'm2', line: 99 },
        { path: 'b', message: 'no line' },
        { path: 'c', message: 'zero', line: 0 },
      ],
      10,
    );
    expect(markers).toEqual([
      { line: 2, startColumn: 5, message: 'm1 (a)' },
      { line: 10, startColumn: 1, message: 'm2' },
      { line: 1, startColumn: 1, message: 'zero (c)' },
    ]);
    expect(describeProblem({ path: 'p', message: 'm', line: 3 })).toBe('line 3: m');
    expect(describeProblem({ path: 'p', message: 'm' })).toBe('p: m');
    expect(describeProblem({ path: 'nodes[1]', message: 'm', node_id: 'b' }, nodes)).toBe('done: m');
  });
});

describe('run and logs', () => {
  it('parses the run payload', () => {
    expect(parsePayload('')).toEqual({ ok: true, value: {} });
    expect(parsePayload('{"a": 1}')).toEqual({ ok: true, value: { a: 1 } });
    expect(parsePayload('{a}')).toMatchObject({ ok: false, message: expect.stringMatching(/not valid JSON/) });
  });

  it('parses log events, tolerating plain text', () => {
    expect(parseLogEvent('{"ts":"t","level":"error","message":"boom","execution_id":"e"}')).toEqual({
      ts: 't',
      level: 'error',
      message: 'boom',
      execution_id: 'e',
    });
    expect(parseLogEvent('hello')?.message).toBe('hello');
    expect(parseLogEvent('{"ts": 1795243326.45, "level": "info", "message": "up"}')?.ts).toBe(1795243326.45);
    expect(parseLogEvent('')).toBeNull();
  });

  it('lays out step bars on the execution span', () => {
    const bars = stepBars([
      { step: 1, listener: 'a', handler: 'h', status: 'succeeded', input: null, output: null, error: null, started_at: '2024-01-01T00:00:00.000Z', finished_at: '2024-01-01T00:00:00.100Z', duration_ms: 100 },
      { step: 2, listener: 'b', handler: 'h', status: 'succeeded', input: null, output: null, error: null, started_at: '2024-01-01T00:00:00.100Z', finished_at: '2024-01-01T00:00:00.400Z', duration_ms: 300 },
    ]);
    expect(bars).toEqual([
      { left: 0, width: 0.25 },
      { left: 0.25, width: 0.75 },
    ]);
    const sequential = stepBars([
      { step: 1, listener: 'a', handler: 'h', status: 's', input: null, output: null, error: null, started_at: null, finished_at: null, duration_ms: 10 },
      { step: 2, listener: 'b', handler: 'h', status: 's', input: null, output: null, error: null, started_at: null, finished_at: null, duration_ms: 30 },
    ]);
    expect(sequential[1]).toEqual({ left: 0.25, width: 0.75 });
  });
});

describe('formatting', () => {
  it('formats durations, times and JSON', () => {
    expect(formatDuration(null)).toBe('—');
    expect(formatDuration(12.4)).toBe('12 ms');
    expect(formatDuration(0.387)).toBe('0.39 ms');
    expect(formatDuration(4.25)).toBe('4.3 ms');
    expect(formatDuration(1500)).toBe('1.50 s');
    expect(formatDuration(125_000)).toBe('2 min 5 s');
    const now = Date.parse('2024-01-01T12:00:00Z');
    expect(formatRelative('2024-01-01T11:59:50Z', now)).toBe('just now');
    expect(formatRelative('2024-01-01T11:00:00Z', now)).toBe('1 h ago');
    expect(formatRelative(now / 1000 - 7200, now)).toBe('2 h ago');
    expect(formatJson({ a: 1 })).toBe('{\n  "a": 1\n}');
    expect(isEmptyValue({})).toBe(true);
    expect(isEmptyValue([0])).toBe(false);
  });

  it('summarises nodes', () => {
    expect(nodeSummary('http', { config: { method: 'POST', url: 'https://x' } })).toBe('POST https://x');
    expect(nodeSummary('trigger', { kind: 'schedule', cron: '0 2 * * *' })).toBe('schedule 0 2 * * *');
    expect(nodeSummary('branch', { config: { cases: [{}], default: 'b' } })).toBe('1 case · else b');
    expect(nodeSummary('loop', { max_iterations: 3, config: { expression: 'payload' } })).toBe('≤ 3× · payload');
  });

  it('only follows same-app paths after login', () => {
    expect(safeNext('/flow/1')).toBe('/flow/1');
    expect(safeNext('//evil.com')).toBe('/dashboard');
    expect(safeNext('https://evil.com')).toBe('/dashboard');
    expect(safeNext(null)).toBe('/dashboard');
  });
});
