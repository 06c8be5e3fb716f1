import { fireEvent, screen, waitFor } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { getToken, setToken } from '../auth/token';
import { mockFetch, renderRoutes } from '../test/helpers';
import SettingsPage from './SettingsPage';

const me = { user: { id: 'u1', email: 'a@b.co' }, tenant: { id: 't1', tier: 'free' } };

beforeEach(() => setToken('tok'));
afterEach(() => vi.unstubAllGlobals());

function renderSettings() {
  return renderRoutes([{ path: '/settings', element: <SettingsPage /> }], '/settings');
}

describe('SettingsPage security', () => {
  it('creates a key with an expiry and shows when keys expire', async () => {
    const calls = mockFetch([
      { path: '/api/auth/me', body: me },
      {
        path: '/api/keys',
        body: [{ id: 'k1', name: 'ci', prefix: 'fpk_abc', created_at: '2026-01-01T00:00:00Z', expires_at: '2026-03-01T00:00:00Z', last_used_at: null, revoked_at: null }],
      },
      { method: 'POST', path: '/api/keys', status: 201, body: { id: 'k2', name: 'deploy', prefix: 'fpk_x', created_at: '', expires_at: null, key: 'fpk_xyz' } },
    ]);
    renderSettings();
    await screen.findByText('ci');
    expect(screen.getAllByText('never').length).toBeGreaterThan(0); // last used
    fireEvent.change(screen.getByTestId('api-key-name'), { target: { value: 'deploy' } });
    fireEvent.change(screen.getByTestId('api-key-expiry'), { target: { value: '30' } });
    fireEvent.click(screen.getByTestId('api-key-create'));
    await screen.findByTestId('api-key-value');
    const created = calls.find((call) => call.method === 'POST' && call.url === '/api/keys');
    expect(created?.body).toEqual({ name: 'deploy', expires_in_days: 30 });
  });

  it('changes the password and reports the sessions it ended', async () => {
    const calls = mockFetch([
      { path: '/api/auth/me', body: me },
      { path: '/api/keys', body: [] },
      { method: 'POST', path: '/api/auth/password', body: { revoked: 2 } },
    ]);
    renderSettings();
    fireEvent.change(screen.getByTestId('current-password'), { target: { value: 'old horse battery' } });
    fireEvent.change(screen.getByTestId('new-password'), { target: { value: 'new horse battery' } });
    fireEvent.click(screen.getByTestId('change-password'));
    expect((await screen.findByRole('status')).textContent).toContain('2 other sessions were logged out');
    const sent = calls.find((call) => call.url === '/api/auth/password');
    expect(sent?.body).toEqual({ current_password: 'old horse battery', new_password: 'new horse battery' });
  });

  it('logs out everywhere and signs this browser out', async () => {
    const calls = mockFetch([
      { path: '/api/auth/me', body: me },
      { path: '/api/keys', body: [] },
      { method: 'DELETE', path: '/api/auth/sessions', body: { revoked: 3 } },
    ]);
    renderSettings();
    fireEvent.click(screen.getByTestId('log-out-everywhere'));
    await waitFor(() => expect(getToken()).toBeNull());
    expect(calls.some((call) => call.method === 'DELETE' && call.url === '/api/auth/sessions')).toBe(true);
  });
});
