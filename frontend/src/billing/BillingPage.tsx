import { useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import { useSearchParams } from 'react-router';
import { ApiError, errorMessage } from '../api/client';
import { billingApi, formatLimit, usedPercent, type Billing } from './api';

const PLAN_NAMES: Record<string, string> = {
  free: 'Free',
  paid: 'Paid',
  pro: 'Pro',
  enterprise: 'Enterprise',
  'self-hosted': 'Self-hosted',
};

function UsageBar({ label, used, limit, unit }: { label: string; used: number; limit: number | null; unit?: string }) {
  const percent = usedPercent(used, limit);
  const over = percent !== null && percent >= 100;
  return (
    <div className="usage-row" data-testid={`usage-${label.toLowerCase().replace(/\s+/g, '-')}`}>
      <div className="usage-label">
        <span>{label}</span>
        <span className="muted">
          {used.toLocaleString('en-US')} / {formatLimit(limit)}
          {unit ? ` ${unit}` : ''}
        </span>
      </div>
      <div
        className={`usage-bar${over ? ' usage-bar-full' : ''}`}
        role="progressbar"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={percent ?? 0}
      >
        <div className="usage-bar-fill" style={{ width: `${percent ?? 0}%` }} />
      </div>
    </div>
  );
}

function Invoices() {
  const invoices = useQuery({ queryKey: ['billing', 'invoices'], queryFn: billingApi.invoices });
  if (invoices.error instanceof ApiError && invoices.error.status === 403) return null;
  return (
    <section className="card" aria-labelledby="invoices-heading">
      <h2 id="invoices-heading">Invoices</h2>
      {invoices.isError ? <p className="form-error">{errorMessage(invoices.error)}</p> : null}
      {invoices.data && invoices.data.length === 0 ? <p className="muted">No invoices yet.</p> : null}
      {invoices.data && invoices.data.length > 0 ? (
        <table className="table" data-testid="invoices">
          <thead>
            <tr>
              <th>Number</th>
              <th>Date</th>
              <th>Amount</th>
              <th>Status</th>
            </tr>
          </thead>
          <tbody>
            {invoices.data.map((invoice) => (
              <tr key={invoice.id}>
                <td>
                  {invoice.hosted_invoice_url ? (
                    <a href={invoice.hosted_invoice_url}>{invoice.number ?? invoice.id}</a>
                  ) : (
                    (invoice.number ?? invoice.id)
                  )}
                </td>
                <td>{new Date(invoice.created).toLocaleDateString()}</td>
                <td>
                  {(invoice.amount_due / 100).toFixed(2)} {invoice.currency.toUpperCase()}
                </td>
                <td>{invoice.status}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}

function PlanActions({ billing }: { billing: Billing }) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  async function go(action: () => Promise<{ url: string }>) {
    setBusy(true);
    setError(null);
    try {
      window.location.assign((await action()).url);
    } catch (err) {
      setError(errorMessage(err));
      setBusy(false);
    }
  }
  if (!billing.stripe_enabled) {
    return (
      <p className="muted" data-testid="self-hosted-note">
        This server is self-hosted without Stripe: nothing is limited and nothing is for sale. An operator changes a
        workspace&apos;s plan with <code>flowplane admin set-plan EMAIL PLAN</code>.
      </p>
    );
  }
  return (
    <div className="form-actions">
      {billing.upgrade_plans.map((plan) => (
        <button
          key={plan}
          type="button"
          className="button button-primary"
          disabled={busy}
          data-testid={`upgrade-${plan}`}
          onClick={() => go(() => billingApi.checkout(plan))}
        >
          Upgrade to {PLAN_NAMES[plan] ?? plan}
        </button>
      ))}
      {billing.subscription?.has_customer ? (
        <button type="button" className="button" disabled={busy} data-testid="manage-billing" onClick={() => go(billingApi.portal)}>
          Manage billing
        </button>
      ) : null}
      {error ? (
        <p className="form-error" role="alert">
          {error}
        </p>
      ) : null}
    </div>
  );
}

export default function BillingPage() {
  const [params] = useSearchParams();
  const billing = useQuery({
    queryKey: ['billing'],
    queryFn: billingApi.billing,
    // Right after Checkout the webhook may still be on its way: look again for a short while.
    refetchInterval: (query) =>
      params.get('checkout') === 'success' && query.state.data?.plan === 'free' ? 1000 : false,
  });
  const data = billing.data;
  return (
    <div className="page narrow">
      <h1>Billing</h1>
      {params.get('checkout') === 'success' ? (
        <p className="banner" role="status">
          Thank you: your plan changes as soon as Stripe confirms the payment.
        </p>
      ) : null}
      {billing.isError ? <p className="form-error">{errorMessage(billing.error)}</p> : null}
      {data ? (
        <>
          <section className="card" aria-labelledby="plan-heading">
            <h2 id="plan-heading">
              Plan: <span data-testid="billing-plan">{PLAN_NAMES[data.plan] ?? data.plan}</span>
            </h2>
            {data.subscription?.grace_until ? (
              <p className="banner banner-error" role="alert">
                A payment failed. Update your payment method before{' '}
                {new Date(data.subscription.grace_until).toLocaleString()} or the workspace moves to Free.
              </p>
            ) : null}
            {data.usage.over_plan_flows > 0 ? (
              <p className="banner banner-error">
                {data.usage.over_plan_flows} flow(s) are over this plan&apos;s limit: they are kept but cannot run.
                Upgrade, or delete flows to make room.
              </p>
            ) : null}
            <PlanActions billing={data} />
          </section>
          <section className="card" aria-labelledby="usage-heading">
            <h2 id="usage-heading">Usage ({data.usage.month})</h2>
            <UsageBar label="Executions this month" used={data.usage.executions_this_month} limit={data.limits.executions_per_month} />
            <UsageBar label="Flows" used={data.usage.flows} limit={data.limits.flows} />
            <UsageBar label="WASM modules" used={data.usage.wasm_modules} limit={data.limits.wasm_modules} />
            <UsageBar label="Members" used={data.usage.team_members} limit={data.limits.team_members} />
            <p className="muted">
              Project memory:{' '}
              {data.limits.project_memory_bytes === null
                ? 'unlimited'
                : data.limits.project_memory_bytes === 0
                  ? 'not included'
                  : `${(data.limits.project_memory_bytes / 1_000_000).toLocaleString('en-US')} MB per flow`}
            </p>
          </section>
          {data.stripe_enabled ? <Invoices /> : null}
        </>
      ) : (
        <p className="muted">Loading…</p>
      )}
    </div>
  );
}
