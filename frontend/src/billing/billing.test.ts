import { afterEach, describe, expect, it, vi } from 'vitest';
import { apiRequest, QUOTA_EVENT, type QuotaDetail } from '../api/client';
import { formatLimit, usedPercent } from './api';

describe('billing helpers', () => {
  it('formats limits and usage shares', () => {
    expect(formatLimit(null)).toBe('unlimited');
    expect(formatLimit(10000)).toBe('10,000');
    expect(usedPercent(5, null)).toBeNull();
    expect(usedPercent(1, 1)).toBe(100);
    expect(usedPercent(250, 1000)).toBe(25);
    expect(usedPercent(0, 0)).toBe(0);
    expect(usedPercent(3, 2)).toBe(100);
  });
});

describe('402 QuotaExceeded', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('is announced with its link to the billing page', async () => {
    const body = {
      error: 'QuotaExceeded',
      detail: 'the free plan allows 1 flow and this workspace has 1; upgrade to create more, or delete a flow',
      quota: 'flows',
      limit: 1,
      used: 1,
      upgrade_url: '/settings/billing',
    };
    vi.stubGlobal('fetch', vi.fn(async () => new Response(JSON.stringify(body), { status: 402 })));
    const seen: QuotaDetail[] = [];
    const listener = (event: Event) => seen.push((event as CustomEvent<QuotaDetail>).detail);
    window.addEventListener(QUOTA_EVENT, listener);
    await expect(apiRequest('/api/flows', { method: 'POST', body: {} })).rejects.toMatchObject({ status: 402 });
    window.removeEventListener(QUOTA_EVENT, listener);
    expect(seen).toEqual([
      { detail: body.detail, quota: 'flows', limit: 1, used: 1, upgradeUrl: '/settings/billing' },
    ]);
  });
});
