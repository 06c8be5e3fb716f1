import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { setToken } from '../auth/token';
import { mockFetch, renderRoutes } from '../test/helpers';
import RunsPage from './RunsPage';

const execution = {
  id: 'exec-0001-aaaa',
  flow_id: 'f1',
  status: 'failed',
  trigger: 'run',
  input: { ticket: 7 },
  outputs: [],
  error: { message: 'HTTP 500 from https://api.example.com' },
  reason: 'step 2 failed',
  created_at: '2024-01-01T00:00:00Z',
  started_at: '2024-01-01T00:00:00.000Z',
  finished_at: '2024-01-01T00:00:00.250Z',
  duration_ms: 250,
  steps: [
    { step: 1, listener: 'shape', handler: 'builtin.transform', status: 'succeeded', input: { ticket: 7 }, output: { id: 7 }, error: null, routed_to: ['call'], started_at: '2024-01-01T00:00:00.000Z', finished_at: '2024-01-01T00:00:00.050Z', duration_ms: 50 },
    { step: 2, listener: 'call', handler: 'builtin.http', status: 'failed', input: { id: 7 }, output: null, error: { message: 'HTTP 500' }, started_at: '2024-01-01T00:00:00.050Z', finished_at: '2024-01-01T00:00:00.250Z', duration_ms: 200 },
  ],
};

beforeEach(() => setToken('tok'));
afterEach(() => vi.unstubAllGlobals());

describe('RunsPage', () => {
  it('lists executions and shows the timeline of the selected one', async () => {
    const calls = mockFetch([
      { path: '/api/flows/f1', body: { id: 'f1', name: 'triage' } },
      {
        path: '/api/flows/f1/executions',
        body: { items: [{ id: execution.id, status: 'failed', trigger: 'run', created_at: execution.created_at, started_at: null, finished_at: null, duration_ms: 250, error: null }], next_cursor: 'next' },
      },
      { path: `/api/executions/${execution.id}`, body: execution },
      { method: 'POST', path: `/api/executions/${execution.id}/retry`, status: 202, body: { execution_id: 'exec-0002' } },
    ]);
    const { router } = renderRoutes(
      [
        { path: '/flow/:id/runs', element: <RunsPage /> },
        { path: '/flow/:id/runs/:executionId', element: <RunsPage /> },
      ],
      `/flow/f1/runs/${execution.id}`,
    );
    const timeline = await screen.findByTestId('execution-timeline');
    expect(within(timeline).getByTestId('execution-status').textContent).toContain('failed');
    expect(within(timeline).getByTestId('execution-reason').textContent).toBe('step 2 failed');
    expect(within(timeline).getByTestId('execution-input').textContent).toContain('"ticket": 7');
    const first = within(timeline).getByTestId('step-shape');
    expect(within(first).getByTestId('step-duration').textContent).toBe('50 ms');
    expect(within(first).getByText('→ call')).toBeTruthy();
    const failedStep = within(timeline).getByTestId('step-call');
    expect(failedStep.querySelector('details')?.open).toBe(true);
    expect(within(failedStep).getByText(/HTTP 500/)).toBeTruthy();
    expect(screen.getByText('Load more')).toBeTruthy();

    fireEvent.click(screen.getByLabelText('Retry this execution'));
    await waitFor(() => expect(router.state.location.pathname).toBe('/flow/f1/runs/exec-0002'));

    fireEvent.change(screen.getByLabelText('Filter by status'), { target: { value: 'failed' } });
    await waitFor(() => expect(calls.some((call) => call.url.includes('status=failed'))).toBe(true));
  });

  it('renders a forged timeline as text, never as HTML', async () => {
    const markup = '<img src=x onerror="window.__pwned = 1">';
    const forged = {
      ...execution,
      id: 'exec-forged',
      error: markup,
      reason: markup,
      input: { html: markup },
      steps: [
        { step: 1, listener: markup, handler: markup, status: 'failed', input: markup, output: { [markup]: markup }, error: markup, reason: markup, routed_to: markup, started_at: null, finished_at: null, duration_ms: null },
      ],
    };
    mockFetch([
      { path: '/api/flows/f1', body: { id: 'f1', name: 'triage' } },
      { path: '/api/flows/f1/executions', body: { items: [], next_cursor: null } },
      { path: `/api/executions/${forged.id}`, body: forged },
    ]);
    renderRoutes([{ path: '/flow/:id/runs/:executionId', element: <RunsPage /> }], `/flow/f1/runs/${forged.id}`);
    const timeline = await screen.findByTestId('execution-timeline');
    expect(timeline.querySelector('img')).toBeNull();
    expect(document.querySelector('img[src="x"]')).toBeNull();
    expect(timeline.textContent).toContain(markup);
    expect((window as unknown as { __pwned?: number }).__pwned).toBeUndefined();
  });

  it('shows what a waiting execution waits for, approves it, and reruns a failed one from a step', async () => {
    const waiting = {
      ...execution,
      id: 'exec-wait',
      status: 'waiting',
      error: null,
      reason: null,
      waiting_for: { kind: 'approval', listener: 'review', step: 2, message: 'Ship order 7?' },
    };
    const calls = mockFetch([
      { path: '/api/flows/f1', body: { id: 'f1', name: 'triage' } },
      {
        path: '/api/flows/f1/executions',
        body: { items: [{ ...waiting, steps: undefined }], next_cursor: null },
      },
      { path: '/api/executions/exec-wait', body: waiting },
      { method: 'POST', path: '/api/executions/exec-wait/approve', body: { execution_id: 'exec-wait' } },
      { path: `/api/executions/${execution.id}`, body: execution },
      { method: 'POST', path: `/api/executions/${execution.id}/rerun`, status: 202, body: { execution_id: 'exec-0003' } },
    ]);
    const { router } = renderRoutes(
      [{ path: '/flow/:id/runs/:executionId', element: <RunsPage /> }],
      '/flow/f1/runs/exec-wait',
    );
    const banner = await screen.findByTestId('execution-waiting');
    expect(banner.textContent).toContain('approval: Ship order 7?');
    expect((await screen.findByTestId('run-waiting-exec-wait')).textContent).toContain('Ship order 7?');
    expect(screen.getByTestId('execution-cancel')).toBeTruthy();
    fireEvent.click(screen.getByTestId('execution-approve'));
    await waitFor(() =>
      expect(calls.some((call) => call.url.endsWith('/api/executions/exec-wait/approve'))).toBe(true),
    );

    await router.navigate(`/flow/f1/runs/${execution.id}`);
    fireEvent.click(await screen.findByTestId('step-rerun-2'));
    await waitFor(() => expect(router.state.location.pathname).toBe('/flow/f1/runs/exec-0003'));
    const rerun = calls.find((call) => call.url.endsWith('/rerun'));
    expect(rerun?.body).toEqual({ from_step: 2 });
  });
});
