import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError, apiRequest, buildUrl, errorMessage } from './client';
import { api, logsUrl } from './endpoints';
import { getToken, setToken } from '../auth/token';
import { mockFetch } from '../test/helpers';

afterEach(() => vi.unstubAllGlobals());

describe('apiRequest', () => {
  it('sends the bearer token and JSON body', async () => {
    setToken('tok-1');
    const calls = mockFetch([{ method: 'POST', path: '/api/flows', status: 201, body: { id: 'f1' } }]);
    const flow = await api.createFlow({ name: 'demo' });
    expect(flow).toEqual({ id: 'f1' });
    expect(calls[0].headers.Authorization).toBe('Bearer tok-1');
    expect(calls[0].headers['Content-Type']).toBe('application/json');
    expect(calls[0].body).toEqual({ name: 'demo' });
  });

  it('does not send the token to login and signup', async () => {
    setToken('old');
    const calls = mockFetch([{ method: 'POST', path: '/api/auth/login', body: { token: 't' } }]);
    await api.login('a@b.co', 'pw');
    expect(calls[0].headers.Authorization).toBeUndefined();
  });

  it('turns error bodies into ApiError with problems', async () => {
    mockFetch([
      {
        method: 'PUT',
        path: '/api/flows/f1',
        status: 422,
        body: { error: 'InvalidOrganism', detail: 'bad', problems: [{ path: 'listeners[0].name', message: 'dup', line: 4 }] },
      },
    ]);
    const error = await api.updateFlow('f1', { organism_yaml: 'x' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).code).toBe('InvalidOrganism');
    expect((error as ApiError).problems[0].line).toBe(4);
    expect(errorMessage(error)).toBe('bad');
  });

  it('explains quota errors with the upgrade link', async () => {
    mockFetch([
      { method: 'POST', path: '/api/flows', status: 402, body: { error: 'QuotaExceeded', detail: 'Free allows 1 flow', upgrade_url: '/billing' } },
    ]);
    const error = await api.createFlow({ name: 'x' }).catch((e: unknown) => e);
    expect(errorMessage(error)).toBe('Free allows 1 flow Upgrade: /billing');
  });

  it('summarises FastAPI validation details', async () => {
    mockFetch([{ path: '/api/flows', status: 422, body: { detail: [{ loc: ['body', 'name'], msg: 'field required' }] } }]);
    const error = await api.listFlows().catch((e: unknown) => e);
    expect(errorMessage(error)).toBe('name: field required');
  });

  it('signs out on 401', async () => {
    setToken('expired');
    mockFetch([{ path: '/api/auth/me', status: 401, body: { error: 'Unauthorized', detail: 'expired' } }]);
    await expect(api.me()).rejects.toBeInstanceOf(ApiError);
    expect(getToken()).toBeNull();
  });

  it('reports network failures as status 0', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => Promise.reject(new TypeError('offline'))));
    const error = await apiRequest('/api/flows').catch((e: unknown) => e);
    expect((error as ApiError).status).toBe(0);
    expect(errorMessage(error)).toMatch(/reach the server/);
  });

  it('returns undefined for 204', async () => {
    mockFetch([{ method: 'DELETE', path: '/api/keys/k1', status: 204 }]);
    await expect(api.revokeKey('k1')).resolves.toBeUndefined();
  });
});

describe('urls', () => {
  it('builds query strings without empty values', () => {
    expect(buildUrl('/x', { a: 1, b: '', c: undefined, d: null, e: 'y z' })).toBe('/x?a=1&e=y+z');
    expect(buildUrl('/x')).toBe('/x');
  });

  it('passes the wait flag and cursor', async () => {
    const calls = mockFetch([
      { method: 'POST', path: '/api/triggers/f1/inject', body: { execution_id: 'e1', status: 'succeeded' } },
      { path: '/api/flows/f1/executions', body: { items: [], next_cursor: null } },
    ]);
    await api.inject('f1', { a: 1 }, 'run');
    await api.listExecutions('f1', { status: 'failed', limit: 25, cursor: 'c2' });
    expect(calls[0].url).toBe('/api/triggers/f1/inject?wait=true');
    expect(calls[0].body).toEqual({ payload: { a: 1 }, trigger: 'run' });
    expect(calls[1].url).toBe('/api/flows/f1/executions?status=failed&limit=25&cursor=c2');
  });

  it('never puts the token in the SSE url', () => {
    expect(logsUrl('f 1')).toBe('/api/flows/f%201/logs');
  });
});
