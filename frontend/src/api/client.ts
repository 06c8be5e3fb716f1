import { getToken, setToken } from '../auth/token';
import type { Problem } from './types';

/** An error answered by the control plane: `{error, detail, problems?}`. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly detail: string;
  readonly problems: Problem[];
  readonly body: Record<string, unknown>;

  constructor(status: number, body: Record<string, unknown>) {
    const code = typeof body.error === 'string' ? body.error : `HTTP${status}`;
    const detail = describeDetail(body.detail) ?? defaultDetail(status);
    super(detail);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.detail = detail;
    this.problems = Array.isArray(body.problems) ? (body.problems as Problem[]) : [];
    this.body = body;
  }
}

function describeDetail(detail: unknown): string | null {
  if (typeof detail === 'string' && detail) return detail;
  if (Array.isArray(detail)) {
    // FastAPI request validation: [{loc, msg}]
    return detail
      .map((item) => {
        if (item && typeof item === 'object' && 'msg' in item) {
          const loc = Array.isArray((item as { loc?: unknown }).loc)
            ? ((item as { loc: unknown[] }).loc.filter((part) => part !== 'body').join('.') || '')
            : '';
          return loc ? `${loc}: ${String((item as { msg: unknown }).msg)}` : String((item as { msg: unknown }).msg);
        }
        return JSON.stringify(item);
      })
      .join('; ');
  }
  return null;
}

function defaultDetail(status: number): string {
  if (status === 0) return 'Could not reach the server';
  if (status === 401) return 'Please sign in again';
  if (status === 402) return 'Your plan limit is reached';
  if (status === 403) return 'You are not allowed to do that';
  if (status === 404) return 'Not found';
  if (status === 409) return 'That conflicts with something that already exists';
  if (status >= 500) return 'The server had a problem; try again';
  return `Request failed (${status})`;
}

export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.code === 'QuotaExceeded') {
      const upgrade = typeof error.body.upgrade_url === 'string' ? ` Upgrade: ${error.body.upgrade_url}` : '';
      return `${error.detail}${upgrade}`;
    }
    return error.detail;
  }
  if (error instanceof Error) return error.message;
  return String(error);
}

/** Dispatched on `window` for every 402 QuotaExceeded (billing/QuotaBanner.tsx shows it). */
export const QUOTA_EVENT = 'flowplane:quota-exceeded';

export interface QuotaDetail {
  detail: string;
  quota: string | null;
  limit: unknown;
  used: unknown;
  upgradeUrl: string;
}

function announceQuota(error: ApiError): void {
  if (typeof window === 'undefined' || error.code !== 'QuotaExceeded') return;
  const detail: QuotaDetail = {
    detail: error.detail,
    quota: typeof error.body.quota === 'string' ? error.body.quota : null,
    limit: error.body.limit,
    used: error.body.used,
    upgradeUrl: typeof error.body.upgrade_url === 'string' ? error.body.upgrade_url : '/settings/billing',
  };
  window.dispatchEvent(new CustomEvent(QUOTA_EVENT, { detail }));
}

type UnauthorizedHandler = () => void;
let onUnauthorized: UnauthorizedHandler | null = null;

/** Called when an authenticated request answers 401 (expired or revoked token). */
export function setUnauthorizedHandler(handler: UnauthorizedHandler | null): void {
  onUnauthorized = handler;
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  query?: Record<string, string | number | boolean | null | undefined>;
  signal?: AbortSignal;
  /** Do not send the token (login/signup). */
  anonymous?: boolean;
  /** The answer is text (a file), not JSON. */
  text?: boolean;
}

export function buildUrl(path: string, query?: RequestOptions['query']): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === '') continue;
    params.set(key, String(value));
  }
  const qs = params.toString();
  return qs ? `${path}${path.includes('?') ? '&' : '?'}${qs}` : path;
}

export async function apiRequest<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  const token = options.anonymous ? null : getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(options.body);
  }
  let response: Response;
  try {
    response = await fetch(buildUrl(path, options.query), {
      method: options.method ?? (body === undefined ? 'GET' : 'POST'),
      headers,
      body,
      signal: options.signal,
    });
  } catch (error) {
    if (error instanceof DOMException && error.name === 'AbortError') throw error;
    throw new ApiError(0, { error: 'NetworkError' });
  }
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  if (options.text && response.ok) return text as T;
  let parsed: unknown = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = { detail: text };
    }
  }
  if (!response.ok) {
    const errorBody = parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {};
    if (response.status === 401 && token) {
      setToken(null);
      onUnauthorized?.();
    }
    const error = new ApiError(response.status, errorBody);
    if (response.status === 402) announceQuota(error);
    throw error;
  }
  return parsed as T;
}
