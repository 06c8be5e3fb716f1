import { screen } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Flow, FlowRuntimeStatus } from '../api/types';
import { setToken } from '../auth/token';
import { mockFetch, renderRoutes } from '../test/helpers';
import { FlowPanel } from './FlowPanel';

beforeEach(() => setToken('tok'));
afterEach(() => vi.unstubAllGlobals());

const flow: Flow = {
  id: 'f1',
  name: 'remembering',
  description: null,
  canvas_state: null,
  organism_yaml: null,
  version: 1,
  status: 'running',
  status_reason: null,
  webhook_url: null,
  last_execution: null,
  executions_this_month: 0,
  executions_limit: null,
  created_at: '2030-01-01T00:00:00Z',
  updated_at: '2030-01-01T00:00:00Z',
};

function renderPanel(runtime: FlowRuntimeStatus) {
  mockFetch([
    { path: '/api/flows/f1/versions', body: [] },
    { path: '/api/flows/f1/secrets', body: [] },
  ]);
  const panel = (
    <FlowPanel flow={flow} dirty={false} onRestored={() => undefined} runtime={runtime} problems={[]} localProblemCount={0} nodes={[]} />
  );
  renderRoutes([{ path: '/flow/:id', element: panel }], '/flow/f1');
}

describe('FlowPanel, project memory', () => {
  it('shows the memory held against the plan, with a bar', () => {
    renderPanel({ desired: 'running', status: 'running', memory: { used_bytes: 9_500_000, quota_bytes: 10_000_000 } });
    expect(screen.getByTestId('panel-memory').textContent).toContain('9.5 MB of 10.0 MB');
    expect(screen.getByTestId('panel-memory').className).toBe('error-text');
    expect(screen.getByTestId('panel-memory-meter').getAttribute('value')).toBe('9500000');
  });

  it('says when the plan has no cap', () => {
    renderPanel({ desired: 'running', status: 'running', memory: { used_bytes: 2048, quota_bytes: null } });
    expect(screen.getByTestId('panel-memory').textContent).toContain('2.0 kB used (no cap on this plan)');
    expect(screen.queryByTestId('panel-memory-meter')).toBeNull();
  });

  it('has no memory row when the flow does not use project memory', () => {
    renderPanel({ desired: 'running', status: 'running', memory: null });
    expect(screen.queryByTestId('panel-memory')).toBeNull();
  });
});
