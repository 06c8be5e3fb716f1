import { vi } from 'vitest';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { createMemoryRouter, RouterProvider, type RouteObject } from 'react-router';
import { render } from '@testing-library/react';
import { AuthProvider } from '../auth/AuthContext';

export interface MockRoute {
  method?: string;
  path: string | RegExp;
  status?: number;
  body?: unknown | ((request: { url: string; body: unknown }) => unknown);
}

export interface RecordedCall {
  method: string;
  url: string;
  body: unknown;
  headers: Record<string, string>;
}

/** Replaces fetch with a router over canned answers; returns the calls made. */
export function mockFetch(routes: MockRoute[]): RecordedCall[] {
  const calls: RecordedCall[] = [];
  vi.stubGlobal(
    'fetch',
    vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
      const url = typeof input === 'string' ? input : input.toString();
      const method = (init?.method ?? 'GET').toUpperCase();
      const body = typeof init?.body === 'string' ? JSON.parse(init.body) : undefined;
      calls.push({ method, url, body, headers: (init?.headers ?? {}) as Record<string, string> });
      const path = url.split('?')[0];
      const route = routes.find(
        (candidate) =>
          (candidate.method ?? 'GET').toUpperCase() === method &&
          (typeof candidate.path === 'string' ? candidate.path === path : candidate.path.test(path)),
      );
      if (!route) return new Response(JSON.stringify({ error: 'NotFound', detail: `${method} ${path}` }), { status: 404 });
      const payload = typeof route.body === 'function' ? (route.body as (r: { url: string; body: unknown }) => unknown)({ url, body }) : route.body;
      const status = route.status ?? 200;
      return new Response(status === 204 ? null : JSON.stringify(payload ?? null), {
        status,
        headers: { 'Content-Type': 'application/json' },
      });
    }),
  );
  return calls;
}

export function testQueryClient(): QueryClient {
  return new QueryClient({ defaultOptions: { queries: { retry: false, gcTime: Infinity }, mutations: { retry: false } } });
}

export function renderRoutes(routes: RouteObject[], initialPath: string, client = testQueryClient()) {
  const router = createMemoryRouter(routes, { initialEntries: [initialPath] });
  const result = render(
    <QueryClientProvider client={client}>
      <AuthProvider>
        <RouterProvider router={router} />
      </AuthProvider>
    </QueryClientProvider>,
  );
  return { ...result, router, client };
}
