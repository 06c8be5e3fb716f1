import { fireEvent, screen, waitFor } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { setToken } from '../auth/token';
import { mockFetch, renderRoutes } from '../test/helpers';
import { CallbacksSection } from './CallbacksSection';

beforeEach(() => setToken('tok'));
afterEach(() => vi.unstubAllGlobals());

describe('CallbacksSection', () => {
  it('shows the signing secret on demand and saves the failure notification URL', async () => {
    const settings = { signing_secret: 'ab12', failure_url: null, replay_window_seconds: 300 };
    const calls = mockFetch([
      { path: '/api/flows/f1/callback-settings', body: settings },
      {
        method: 'PUT',
        path: '/api/flows/f1/callback-settings',
        body: ({ body }: { body: unknown }) => ({ ...settings, ...(body as object) }),
      },
    ]);
    renderRoutes([{ path: '/flow/:id', element: <CallbacksSection flowId="f1" /> }], '/flow/f1');
    expect(calls.length).toBe(0);
    fireEvent.click(screen.getByTestId('callbacks-show'));
    expect((await screen.findByTestId('callbacks-secret')).textContent).toBe('ab12');
    fireEvent.change(screen.getByTestId('callbacks-failure-url'), { target: { value: 'https://example.com/f' } });
    fireEvent.click(screen.getByTestId('callbacks-save'));
    await waitFor(() => expect(calls.some((call) => call.method === 'PUT')).toBe(true));
    expect(calls.find((call) => call.method === 'PUT')?.body).toEqual({ failure_url: 'https://example.com/f' });
  });
});
