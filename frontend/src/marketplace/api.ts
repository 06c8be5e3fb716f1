// The marketplace API (/api/marketplace): shapes, endpoint calls and TanStack Query hooks.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { apiRequest } from '../api/client';
import type { Capabilities } from '../modules/api';

const enc = encodeURIComponent;

export type ListingKind = 'tool' | 'flow';
export type SortOrder = 'installs' | 'rating' | 'newest' | 'relevance';
export const CATEGORIES = [
  'ai',
  'communication',
  'data',
  'developer',
  'finance',
  'marketing',
  'productivity',
  'sales',
  'support',
  'utilities',
  'other',
] as const;

/** A JSON Schema (the subset the node panel renders as a form). */
export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  enum?: unknown[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  items?: JsonSchema;
}

export interface ListingCard {
  slug: string;
  kind: ListingKind;
  title: string;
  summary: string;
  category: string;
  tags: string[];
  icon: string | null;
  author: string;
  visibility: string;
  status: string;
  latest_version: string;
  capabilities: Capabilities;
  install_count: number;
  rating: number | null;
  rating_count: number;
  created_at: string;
  updated_at: string;
}

export interface ListingVersion {
  version: string;
  sha256: string;
  capabilities: Capabilities;
  config_schema: JsonSchema | null;
  required_secrets: string[];
  required_tools: string[];
  signature: string;
  key_id: string;
  yanked: boolean;
  created_at: string;
}

export interface Installed {
  slug: string;
  kind: ListingKind;
  title: string;
  icon: string | null;
  version: string;
  reference: string | null;
  granted: Capabilities;
  capabilities: Capabilities;
  config_schema: JsonSchema | null;
  installed_at: string;
}

export interface ListingDetail extends ListingCard {
  readme: string;
  readme_html: string;
  versions: ListingVersion[];
  reviews: { author: string; rating: number; text: string; created_at: string; updated_at: string }[];
  organism_yaml: string | null;
  installed: Installed | null;
  is_author: boolean;
  can_review: boolean;
}

export interface SearchResult {
  items: ListingCard[];
  total: number;
  page: number;
  per_page: number;
}

export interface SearchParams {
  kind: ListingKind;
  q: string;
  category: string;
  sort: SortOrder;
  page: number;
}

export interface PublishInput {
  kind: ListingKind;
  slug: string;
  title: string;
  summary: string;
  readme: string;
  category: string;
  tags: string[];
  visibility: 'public' | 'unlisted' | 'private';
  version?: string;
  module_id?: string;
  module_version?: number;
  config_schema?: JsonSchema | null;
  flow_id?: string;
}

export interface UseResult {
  flow_id: string;
  flow_name: string;
  required_secrets: string[];
  missing_secrets: string[];
  installed_tools: string[];
  missing_tools: { reference: string; slug: string; version: string; capabilities: Capabilities }[];
}

export function searchPath(params: SearchParams): string {
  const query = new URLSearchParams();
  if (params.q.trim()) query.set('q', params.q.trim());
  if (params.category) query.set('category', params.category);
  query.set('sort', params.sort);
  query.set('page', String(params.page));
  return `/api/marketplace/${params.kind === 'tool' ? 'tools' : 'flows'}?${query.toString()}`;
}

export const marketplaceApi = {
  search: (params: SearchParams) => apiRequest<SearchResult>(searchPath(params)),
  listing: (slug: string) => apiRequest<ListingDetail>(`/api/marketplace/listings/${enc(slug)}`),
  installed: () => apiRequest<Installed[]>('/api/marketplace/installed'),
  publish: (input: PublishInput) =>
    apiRequest<ListingDetail>('/api/marketplace/publish', { method: 'POST', body: input }),
  install: (slug: string, version: string, grants: string[]) =>
    apiRequest<Installed>(`/api/marketplace/listings/${enc(slug)}/install`, {
      method: 'POST',
      body: { version, grants },
    }),
  uninstall: (slug: string) =>
    apiRequest<void>(`/api/marketplace/listings/${enc(slug)}/install`, { method: 'DELETE' }),
  use: (slug: string, body: { name?: string; secrets: Record<string, string> }) =>
    apiRequest<UseResult>(`/api/marketplace/listings/${enc(slug)}/use`, { method: 'POST', body }),
  review: (slug: string, rating: number, text: string) =>
    apiRequest<ListingDetail>(`/api/marketplace/listings/${enc(slug)}/reviews`, {
      method: 'POST',
      body: { rating, text },
    }),
  yank: (slug: string, version: string) =>
    apiRequest<ListingVersion>(`/api/marketplace/listings/${enc(slug)}/versions/${enc(version)}/yank`, { method: 'POST' }),
  report: (slug: string, reason: string) =>
    apiRequest<unknown>(`/api/marketplace/listings/${enc(slug)}/reports`, { method: 'POST', body: { reason } }),
};

export const marketplaceKeys = {
  all: ['marketplace'] as const,
  search: (params: SearchParams) => ['marketplace', 'search', params] as const,
  listing: (slug: string) => ['marketplace', 'listing', slug] as const,
  installed: ['marketplace', 'installed'] as const,
};

export function useSearch(params: SearchParams) {
  return useQuery({ queryKey: marketplaceKeys.search(params), queryFn: () => marketplaceApi.search(params) });
}

export function useListing(slug: string) {
  return useQuery({ queryKey: marketplaceKeys.listing(slug), queryFn: () => marketplaceApi.listing(slug) });
}

export function useInstalledTools() {
  return useQuery({ queryKey: marketplaceKeys.installed, queryFn: marketplaceApi.installed });
}

/** Refreshes every marketplace query after a change. */
export function useMarketplaceMutation<A, R>(fn: (args: A) => Promise<R>) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: fn,
    onSuccess: () => client.invalidateQueries({ queryKey: marketplaceKeys.all }),
  });
}

/** The capabilities of a manifest as lines a person can judge: "http_fetch: api.example.com". */
export function describeCapabilities(capabilities: Capabilities | null | undefined): string[] {
  const lines: string[] = [];
  if (capabilities?.http_fetch) {
    lines.push(`http_fetch: make HTTP requests to ${capabilities.http_fetch.hosts.join(', ')}`);
  }
  return lines;
}

/** `tool:<slug>@<version>` -> its parts, or null. */
export function parseToolReference(reference: unknown): { slug: string; version: string } | null {
  if (typeof reference !== 'string') return null;
  const match = /^tool:([a-z0-9][a-z0-9._/-]*)@([A-Za-z0-9._+-]+)$/.exec(reference);
  return match ? { slug: match[1], version: match[2] } : null;
}
