import { useEffect, useState } from 'react';
import { QUOTA_EVENT, type QuotaDetail } from '../api/client';

/** Every 402 QuotaExceeded, wherever it happens (editor, dashboard, modules), shows here with
 * a link to the billing page. A plain link: it works inside and outside the router. */
export function QuotaBanner() {
  const [quota, setQuota] = useState<QuotaDetail | null>(null);
  useEffect(() => {
    const listener = (event: Event) => setQuota((event as CustomEvent<QuotaDetail>).detail);
    window.addEventListener(QUOTA_EVENT, listener);
    return () => window.removeEventListener(QUOTA_EVENT, listener);
  }, []);
  if (!quota) return null;
  return (
    <div className="quota-banner" role="alert" data-testid="quota-banner">
      <span>{quota.detail}</span>{' '}
      <a href={quota.upgradeUrl} className="button button-small button-primary" data-testid="quota-upgrade-link">
        See plans and upgrade
      </a>{' '}
      <button type="button" className="button button-small button-ghost" aria-label="Dismiss" onClick={() => setQuota(null)}>
        ×
      </button>
    </div>
  );
}
