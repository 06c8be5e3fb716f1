import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Flow } from '../api/types';
import { setToken } from '../auth/token';
import { mockFetch, renderRoutes } from '../test/helpers';
import { DashboardPage } from './DashboardPage';
import { copyName, flowNameProblem } from './flowNames';

function flow(overrides: Partial<Flow>): Flow {
  return {
    id: 'f1',
    name: 'triage',
    description: 'Classify tickets',
    canvas_state: { nodes: [{ id: 'n', type: 'output', position: { x: 0, y: 0 }, data: { name: 'out' } }], edges: [] },
    organism_yaml: 'version: 1\n',
    version: 3,
    status: 'running',
    status_reason: null,
    webhook_url: null,
    last_execution: { id: 'e1', status: 'succeeded', created_at: new Date().toISOString() },
    executions_this_month: 120,
    executions_limit: 1000,
    created_at: '2024-01-01T00:00:00Z',
    updated_at: '2024-01-01T00:00:00Z',
    ...overrides,
  };
}

const me = { user: { id: 'u1', email: 'a@b.co' }, tenant: { id: 't1', tier: 'free' } };

beforeEach(() => setToken('tok'));
afterEach(() => vi.unstubAllGlobals());

function renderDashboard() {
  return renderRoutes(
    [
      { path: '/dashboard', element: <DashboardPage /> },
      { path: '/flow/:id', element: <p>editor</p> },
      { path: '/flow/:id/runs/:executionId', element: <p>timeline</p> },
    ],
    '/dashboard',
  );
}

describe('DashboardPage', () => {
  it('lists flows with status, last execution and usage', async () => {
    mockFetch([
      { path: '/api/flows', body: [flow({}), flow({ id: 'f2', name: 'nightly', status: 'error', status_reason: 'pump crashed', last_execution: null, executions_this_month: 5 })] },
      { path: '/api/auth/me', body: me },
    ]);
    renderDashboard();
    const row = await screen.findByTestId('flow-row-triage');
    expect(within(row).getByText('running')).toBeTruthy();
    expect(within(row).getByText('succeeded')).toBeTruthy();
    expect(within(row).getByText('120 / 1,000')).toBeTruthy();
    const other = screen.getByTestId('flow-row-nightly');
    expect(within(other).getByText('error').closest('[title]')?.getAttribute('title')).toBe('pump crashed');
    expect(within(other).getByText('Never run')).toBeTruthy();
    expect(screen.getByText('125 / 1,000')).toBeTruthy();
  });

  it('creates a flow after validating its name, then opens it', async () => {
    const calls = mockFetch([
      { path: '/api/flows', body: [flow({})] },
      { path: '/api/auth/me', body: me },
      { method: 'POST', path: '/api/flows', status: 201, body: flow({ id: 'new', name: 'hello-world' }) },
    ]);
    const { router } = renderDashboard();
    await screen.findByTestId('flow-row-triage');
    fireEvent.click(screen.getByLabelText('Create flow'));
    const input = screen.getByLabelText('Flow name');
    fireEvent.change(input, { target: { value: 'triage' } });
    fireEvent.click(screen.getByTestId('flow-name-submit'));
    expect(await screen.findByRole('alert')).toBeTruthy();
    expect(screen.getAllByText('You already have a flow named "triage"').length).toBeGreaterThan(0);
    fireEvent.change(input, { target: { value: 'Hello World' } });
    expect((input as HTMLInputElement).value).toBe('hello-world');
    fireEvent.click(screen.getByTestId('flow-name-submit'));
    await waitFor(() => expect(router.state.location.pathname).toBe('/flow/new'));
    expect(calls.find((call) => call.method === 'POST')?.body).toEqual({ name: 'hello-world' });
  });

  it('duplicates a flow with a compiled copy under a new name', async () => {
    const calls = mockFetch([
      { path: '/api/flows', body: [flow({})] },
      { path: '/api/auth/me', body: me },
      { method: 'POST', path: '/api/organism/compile', body: { yaml: 'organism: {name: triage-copy}\n', problems: [] } },
      { method: 'POST', path: '/api/flows', status: 201, body: flow({ id: 'f3', name: 'triage-copy' }) },
    ]);
    renderDashboard();
    fireEvent.click(await screen.findByLabelText('Duplicate triage'));
    expect(await screen.findByText('Duplicated triage as triage-copy')).toBeTruthy();
    const post = calls.find((call) => call.method === 'POST' && call.url === '/api/flows');
    expect(post?.body).toMatchObject({ name: 'triage-copy', organism_yaml: 'organism: {name: triage-copy}\n' });
    expect(calls.find((call) => call.url === '/api/organism/compile')?.body).toMatchObject({ name: 'triage-copy' });
  });

  it('renames and deletes', async () => {
    const calls = mockFetch([
      { path: '/api/flows', body: [flow({})] },
      { path: '/api/auth/me', body: me },
      { method: 'PUT', path: '/api/flows/f1', body: flow({ name: 'triage-2' }) },
      { method: 'DELETE', path: '/api/flows/f1', status: 204 },
    ]);
    renderDashboard();
    fireEvent.click(await screen.findByLabelText('Rename triage'));
    fireEvent.change(screen.getByLabelText('Flow name'), { target: { value: 'triage-2' } });
    fireEvent.click(screen.getByTestId('flow-name-submit'));
    await waitFor(() => expect(calls.some((call) => call.method === 'PUT')).toBe(true));
    expect(calls.find((call) => call.method === 'PUT')?.body).toEqual({ name: 'triage-2' });
    fireEvent.click(screen.getByLabelText('Delete triage'));
    fireEvent.click(screen.getByTestId('confirm-delete'));
    expect(await screen.findByText('Deleted triage')).toBeTruthy();
  });

  it('shows an empty state', async () => {
    mockFetch([
      { path: '/api/flows', body: [] },
      { path: '/api/auth/me', body: me },
    ]);
    renderDashboard();
    expect(await screen.findByTestId('flows-empty')).toBeTruthy();
  });
});

describe('flow names', () => {
  it('validates slugs', () => {
    expect(flowNameProblem('')).toMatch(/required/);
    expect(flowNameProblem('Bad Name')).toMatch(/lowercase/);
    expect(flowNameProblem('-x')).toMatch(/lowercase/);
    expect(flowNameProblem('ok_1-a')).toBeNull();
    expect(flowNameProblem('a', ['a'])).toMatch(/already/);
  });

  it('picks copy names', () => {
    expect(copyName('a', ['a', 'a-copy'])).toBe('a-copy-2');
  });
});
