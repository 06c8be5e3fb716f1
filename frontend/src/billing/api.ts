// Billing, members, workspaces and audit: the API shapes and one function per endpoint.
import { apiRequest } from '../api/client';
import type { AuthResponse } from '../api/types';

const enc = encodeURIComponent;

export interface PlanLimits {
  flows: number | null;
  executions_per_month: number | null;
  marketplace_tools: boolean;
  private_marketplace_tools: boolean;
  marketplace_installs: number | null;
  wasm_modules: number | null;
  project_memory_bytes: number | null;
  team_members: number | null;
  execution_retention_days: number | null;
  max_queued_per_flow: number;
}

export interface Usage {
  month: string;
  flows: number;
  over_plan_flows: number;
  executions_this_month: number;
  wasm_modules: number;
  team_members: number;
}

export interface Billing {
  plan: string;
  stripe_enabled: boolean;
  limits: PlanLimits;
  usage: Usage;
  subscription: { status: string | null; grace_until: string | null; has_customer: boolean } | null;
  upgrade_plans: string[];
  upgrade_url: string;
}

export interface Invoice {
  id: string;
  number: string | null;
  status: string | null;
  amount_due: number;
  currency: string;
  created: string;
  hosted_invoice_url: string | null;
  invoice_pdf: string | null;
}

export interface Member {
  user_id: string;
  email: string;
  role: string;
  joined_at: string;
}

export interface Invitation {
  id: string;
  email: string;
  role: string;
  created_at: string;
  expires_at: string;
}

export interface IssuedInvitation extends Invitation {
  token: string;
  accept_url: string;
}

export interface Workspace {
  id: string;
  name: string;
  plan: string;
  role: string;
  current: boolean;
}

export interface AuditEvent {
  id: string;
  user_id: string | null;
  user_email: string | null;
  action: string;
  target_type: string;
  target_id: string | null;
  summary: string;
  created_at: string;
}

export const ROLES = ['viewer', 'editor', 'admin', 'owner'] as const;

export const billingApi = {
  billing: () => apiRequest<Billing>('/api/billing'),
  invoices: () => apiRequest<Invoice[]>('/api/billing/invoices'),
  checkout: (plan: string) => apiRequest<{ url: string }>('/api/billing/checkout', { method: 'POST', body: { plan } }),
  portal: () => apiRequest<{ url: string }>('/api/billing/portal', { method: 'POST' }),

  members: () => apiRequest<Member[]>('/api/members'),
  changeRole: (userId: string, role: string) =>
    apiRequest<Member>(`/api/members/${enc(userId)}`, { method: 'PATCH', body: { role } }),
  removeMember: (userId: string) => apiRequest<void>(`/api/members/${enc(userId)}`, { method: 'DELETE' }),
  invitations: () => apiRequest<Invitation[]>('/api/members/invitations'),
  invite: (email: string, role: string) =>
    apiRequest<IssuedInvitation>('/api/members/invitations', { method: 'POST', body: { email, role } }),
  revokeInvitation: (id: string) => apiRequest<void>(`/api/members/invitations/${enc(id)}`, { method: 'DELETE' }),
  accept: (token: string) => apiRequest<AuthResponse>(`/api/invitations/${enc(token)}/accept`, { method: 'POST' }),

  workspaces: () => apiRequest<Workspace[]>('/api/workspaces'),
  switchWorkspace: (id: string) => apiRequest<AuthResponse>(`/api/workspaces/${enc(id)}/session`, { method: 'POST' }),
  audit: (limit = 100) => apiRequest<AuditEvent[]>('/api/audit', { query: { limit } }),
};

/** "1,000" / "unlimited" */
export function formatLimit(value: number | null): string {
  return value === null ? 'unlimited' : value.toLocaleString('en-US');
}

/** The share of a limit used, 0..100; null when the limit is unlimited. */
export function usedPercent(used: number, limit: number | null): number | null {
  if (limit === null) return null;
  if (limit === 0) return used > 0 ? 100 : 0;
  return Math.min(100, Math.round((used / limit) * 100));
}
