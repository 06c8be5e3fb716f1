// The flow's live logs over Server-Sent Events, read with fetch so the session token travels in
// the Authorization header: EventSource cannot send headers, and a token in the URL would be
// kept by access logs, proxies and the browser's history. Reconnects after a pause, resuming
// after the last event it saw (Last-Event-ID), until stopped.
import { getToken } from '../auth/token';
import { logsUrl } from './endpoints';

export interface SseEvent {
  id: string | null;
  event: string;
  data: string;
}

/** Incremental SSE parser: feed it text as it arrives, get the complete events back. */
export class SseParser {
  private buffer = '';
  private id: string | null = null;
  private event = '';
  private data: string[] = [];

  push(chunk: string): SseEvent[] {
    this.buffer += chunk;
    const events: SseEvent[] = [];
    let newline: number;
    while ((newline = this.buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = this.buffer.slice(0, newline);
      const width = this.buffer.startsWith('\r\n', newline) ? 2 : 1;
      this.buffer = this.buffer.slice(newline + width);
      if (line === '') {
        if (this.data.length > 0) events.push({ id: this.id, event: this.event || 'message', data: this.data.join('\n') });
        this.event = '';
        this.data = [];
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'data') this.data.push(value);
      else if (field === 'event') this.event = value;
      else if (field === 'id') this.id = value;
    }
    return events;
  }
}

export type StreamState = 'connecting' | 'live' | 'retrying';

export interface LogStreamOptions {
  onEvent: (event: SseEvent) => void;
  onState: (state: StreamState) => void;
  retryMs?: number;
  fetchImpl?: typeof fetch;
}

/** Start streaming; the returned function stops it. */
export function streamLogs(flowId: string, options: LogStreamOptions): () => void {
  const controller = new AbortController();
  const fetchImpl = options.fetchImpl ?? fetch;
  const retryMs = options.retryMs ?? 2000;
  let lastEventId: string | null = null;

  const connect = async (): Promise<void> => {
    const headers: Record<string, string> = { Accept: 'text/event-stream' };
    const token = getToken();
    if (token) headers.Authorization = `Bearer ${token}`;
    if (lastEventId) headers['Last-Event-ID'] = lastEventId;
    const response = await fetchImpl(logsUrl(flowId), { headers, signal: controller.signal, cache: 'no-store' });
    if (!response.ok || !response.body) throw new Error(`logs stream answered ${response.status}`);
    options.onState('live');
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    const parser = new SseParser();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      for (const event of parser.push(value)) {
        if (event.id) lastEventId = event.id;
        options.onEvent(event);
      }
    }
  };

  const run = async (): Promise<void> => {
    options.onState('connecting');
    while (!controller.signal.aborted) {
      try {
        await connect();
      } catch {
        // network error, non-2xx or aborted: retried below unless stopped
      }
      if (controller.signal.aborted) return;
      options.onState('retrying');
      await new Promise((resolve) => setTimeout(resolve, retryMs));
    }
  };
  void run();
  return () => controller.abort();
}
