import { fireEvent, screen, waitFor } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { setToken } from '../auth/token';
import { mockFetch, renderRoutes } from '../test/helpers';
import { RunDialog } from './RunDialog';
import { scheduleWhen } from './ScheduledRuns';

beforeEach(() => setToken('tok'));
afterEach(() => vi.unstubAllGlobals());

const job = (id: string, status: string, extra: object = {}) => ({
  id,
  flow_id: 'f1',
  status,
  trigger: 'run',
  payload: {},
  fire_at: '2030-01-02T03:04:05Z',
  execution_id: null,
  error: null,
  created_at: '2030-01-01T00:00:00Z',
  fired_at: null,
  ...extra,
});

describe('scheduleWhen', () => {
  const base = { mode: 'delay' as const, amount: '90', unit: 'seconds' as const, at: '' };

  it('turns a delay into seconds and refuses what the API would', () => {
    expect(scheduleWhen({ ...base, amount: '2', unit: 'hours' })).toEqual({ ok: true, when: { delay_seconds: 7200 } });
    expect(scheduleWhen({ ...base, amount: '-1' }).ok).toBe(false);
    expect(scheduleWhen({ ...base, amount: '' }).ok).toBe(false);
    expect(scheduleWhen({ ...base, amount: '400', unit: 'days' }).ok).toBe(false);
  });

  it('sends a local time with its zone, and refuses one that has passed', () => {
    const now = Date.parse('2030-01-01T12:00:00Z');
    const local = '2030-01-01T13:30:00';
    expect(scheduleWhen({ ...base, mode: 'at', at: local }, now)).toEqual({
      ok: true,
      when: { at: new Date(Date.parse(local)).toISOString() },
    });
    expect(scheduleWhen({ ...base, mode: 'at', at: '2020-01-01T00:00:00' }, now)).toMatchObject({ ok: false });
    expect(scheduleWhen({ ...base, mode: 'at', at: '' }, now)).toMatchObject({ ok: false });
  });
});

describe('RunDialog, later', () => {
  it('schedules the run once, lists it and cancels a pending one', async () => {
    let listed = [job('j0', 'fired', { execution_id: 'e0' })];
    const calls = mockFetch([
      { path: '/api/flows/f1/samples', body: [] },
      { path: '/api/flows/f1/schedules', body: () => ({ items: listed }) },
      {
        method: 'POST',
        path: '/api/flows/f1/schedules',
        status: 201,
        body: ({ body }: { body: unknown }) => {
          const created = job('j1', 'pending', body as object);
          listed = [created, ...listed];
          return created;
        },
      },
      {
        method: 'DELETE',
        path: '/api/flows/f1/schedules/j1',
        body: () => {
          listed = listed.map((item) => (item.id === 'j1' ? { ...item, status: 'cancelled' } : item));
          return listed[0];
        },
      },
    ]);
    const dialog = (
      <RunDialog
        flowId="f1"
        triggers={[{ name: 'run', kind: 'manual' }]}
        flowStatus="running"
        onClose={() => undefined}
        onStart={async () => true}
      />
    );
    renderRoutes([{ path: '/flow/:id', element: dialog }], '/flow/f1');
    expect((await screen.findByTestId('scheduled-run-j0')).dataset.status).toBe('fired');
    expect(screen.getByTestId('scheduled-run-open-j0').getAttribute('href')).toBe('/flow/f1/runs/e0');

    fireEvent.change(screen.getByTestId('run-when'), { target: { value: 'delay' } });
    expect(screen.queryByTestId('run-submit')).toBeNull();
    fireEvent.change(screen.getByTestId('run-delay'), { target: { value: '' } });
    fireEvent.click(screen.getByTestId('run-schedule'));
    expect((await screen.findByTestId('run-when-error')).textContent).toMatch(/delay/);
    expect(calls.some((call) => call.method === 'POST')).toBe(false);

    fireEvent.change(screen.getByTestId('run-delay'), { target: { value: '5' } });
    fireEvent.change(screen.getByTestId('run-payload'), { target: { value: '{"order": 7}' } });
    fireEvent.click(screen.getByTestId('run-schedule'));
    await screen.findByTestId('run-scheduled');
    expect(calls.find((call) => call.method === 'POST')?.body).toEqual({ delay_seconds: 300, payload: { order: 7 }, trigger: 'run' });
    expect((await screen.findByTestId('scheduled-run-j1')).dataset.status).toBe('pending');

    fireEvent.click(screen.getByTestId('scheduled-run-cancel-j1'));
    await waitFor(() => expect(screen.getByTestId('scheduled-run-j1').dataset.status).toBe('cancelled'));
    expect(screen.queryByTestId('scheduled-run-cancel-j1')).toBeNull();
  });
});
