import { afterEach, describe, expect, it, vi } from 'vitest';
import { setToken } from '../auth/token';
import { SseParser, streamLogs, type SseEvent } from './logStream';

afterEach(() => setToken(null));

describe('SseParser', () => {
  it('parses events split across chunks', () => {
    const parser = new SseParser();
    expect(parser.push('id: 1-0\nevent: log\nda')).toEqual([]);
    expect(parser.push('ta: {"a":1}\n\n: keep-alive\n\nid: 2-0\r\ndata: x\r\ndata: y\r\n\r\n')).toEqual([
      { id: '1-0', event: 'log', data: '{"a":1}' },
      { id: '2-0', event: 'message', data: 'x\ny' },
    ]);
  });
});

describe('streamLogs', () => {
  it('sends the token in a header, never in the URL, and resumes after the last event', async () => {
    setToken('fps_secret');
    const calls: { url: string; headers: Record<string, string> }[] = [];
    const bodies = ['id: 7-0\nevent: log\ndata: {"message":"one"}\n\n', 'id: 8-0\nevent: log\ndata: {"message":"two"}\n\n'];
    const fetchImpl = vi.fn(async (url: RequestInfo | URL, init?: RequestInit) => {
      calls.push({ url: String(url), headers: init?.headers as Record<string, string> });
      const body = bodies.shift();
      if (body === undefined) return new Promise<Response>(() => {});
      return new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } });
    });
    const events: SseEvent[] = [];
    const stop = streamLogs('f1', { onEvent: (event) => events.push(event), onState: () => {}, retryMs: 1, fetchImpl });
    await vi.waitFor(() => expect(events).toHaveLength(2));
    await vi.waitFor(() => expect(calls.length).toBeGreaterThanOrEqual(3));
    stop();
    expect(calls[0].url).toBe('/api/flows/f1/logs');
    expect(calls.every((call) => !call.url.includes('fps_secret'))).toBe(true);
    expect(calls[0].headers.Authorization).toBe('Bearer fps_secret');
    expect(calls[0].headers['Last-Event-ID']).toBeUndefined();
    expect(calls[1].headers['Last-Event-ID']).toBe('7-0');
    expect(calls[2].headers['Last-Event-ID']).toBe('8-0');
  });
});
