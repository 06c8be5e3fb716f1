import { useState, type FormEvent } from 'react';
import { errorMessage } from '../api/client';
import { useApiKeys, useCreateApiKey, useMe, useRevokeApiKey } from '../api/queries';
import type { ApiKey, CreatedApiKey } from '../api/types';
import { CopyButton } from '../components/CopyButton';
import { Modal } from '../components/Modal';
import { formatRelative, formatTimestamp } from '../components/format';
import { AccountSecurity } from './AccountSecurity';

const EXPIRY_CHOICES: { label: string; days: number | null }[] = [
  { label: 'Never expires', days: null },
  { label: 'Expires in 30 days', days: 30 },
  { label: 'Expires in 90 days', days: 90 },
  { label: 'Expires in a year', days: 365 },
];

export default function SettingsPage() {
  const me = useMe();
  const keysQuery = useApiKeys();
  const createKey = useCreateApiKey();
  const revokeKey = useRevokeApiKey();
  const [name, setName] = useState('');
  const [expiresInDays, setExpiresInDays] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [created, setCreated] = useState<CreatedApiKey | null>(null);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);

  async function submit(event: FormEvent) {
    event.preventDefault();
    const trimmed = name.trim();
    if (!trimmed) return setError('Give the key a name, e.g. "ci"');
    if (trimmed.length > 100) return setError('Use at most 100 characters');
    setError(null);
    try {
      setCreated(await createKey.mutateAsync({ name: trimmed, expiresInDays }));
      setName('');
    } catch (err) {
      setError(errorMessage(err));
    }
  }

  const keys = keysQuery.data ?? [];

  return (
    <div className="page narrow">
      <h1>Settings</h1>

      <section className="card" aria-labelledby="account-heading">
        <h2 id="account-heading">Account</h2>
        {me.data ? (
          <dl className="facts">
            <dt>Email</dt>
            <dd>{me.data.user.email}</dd>
            <dt>Plan</dt>
            <dd>{me.data.tenant.tier}</dd>
            <dt>Tenant</dt>
            <dd>
              <code>{me.data.tenant.id}</code>
            </dd>
          </dl>
        ) : (
          <p className="muted">Loading…</p>
        )}
      </section>

      <section className="card" aria-labelledby="keys-heading">
        <h2 id="keys-heading">API keys</h2>
        <p className="muted">
          Keys authenticate scripts and CI against the API with <code>Authorization: Bearer &lt;key&gt;</code>. A key
          is shown once, when it is created.
        </p>
        <form className="inline-form" onSubmit={submit} noValidate>
          <label className="field grow">
            <span>Key name</span>
            <input
              value={name}
              onChange={(event) => setName(event.target.value)}
              aria-label="API key name"
              placeholder="ci"
              data-testid="api-key-name"
            />
          </label>
          <label className="field">
            <span>Expiry</span>
            <select
              value={expiresInDays ?? ''}
              onChange={(event) => setExpiresInDays(event.target.value ? Number(event.target.value) : null)}
              aria-label="API key expiry"
              data-testid="api-key-expiry"
            >
              {EXPIRY_CHOICES.map((choice) => (
                <option key={choice.label} value={choice.days ?? ''}>
                  {choice.label}
                </option>
              ))}
            </select>
          </label>
          <button type="submit" className="button button-primary" disabled={createKey.isPending} data-testid="api-key-create">
            Create key
          </button>
        </form>
        {error ? (
          <p className="form-error" role="alert">
            {error}
          </p>
        ) : null}

        {keysQuery.isError ? (
          <p className="form-error" role="alert">
            {errorMessage(keysQuery.error)}
          </p>
        ) : null}
        {keysQuery.isSuccess && keys.length === 0 ? <p className="muted">No keys yet.</p> : null}
        {keys.length > 0 ? (
          <div className="table-wrap">
            <table className="keys-table" data-testid="api-keys-table">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Prefix</th>
                  <th scope="col">Created</th>
                  <th scope="col">Expires</th>
                  <th scope="col">Last used</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {keys.map((key) => (
                  <tr key={key.id} className={key.revoked_at ? 'revoked' : undefined}>
                    <td>{key.name}</td>
                    <td>
                      <code>{key.prefix}…</code>
                    </td>
                    <td title={formatTimestamp(key.created_at)}>{formatRelative(key.created_at)}</td>
                    <td>{key.expires_at ? formatTimestamp(key.expires_at) : <span className="muted">never</span>}</td>
                    <td>{key.last_used_at ? formatRelative(key.last_used_at) : <span className="muted">never</span>}</td>
                    <td className="row-actions">
                      {key.revoked_at ? (
                        <span className="muted">revoked {formatRelative(key.revoked_at)}</span>
                      ) : (
                        <button
                          type="button"
                          className="button button-small button-danger"
                          aria-label={`Revoke key ${key.name}`}
                          onClick={() => setRevoking(key)}
                        >
                          Revoke
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
      </section>

      <AccountSecurity />

      {created ? (
        <Modal title="Your new API key" onClose={() => setCreated(null)} testId="api-key-created">
          <p>Copy it now — it will not be shown again.</p>
          <div className="secret-row">
            <code data-testid="api-key-value">{created.key}</code>
            <CopyButton text={created.key} label="Copy API key" />
          </div>
          <div className="form-actions">
            <button type="button" className="button button-primary" onClick={() => setCreated(null)}>
              Done
            </button>
          </div>
        </Modal>
      ) : null}

      {revoking ? (
        <Modal
          title={`Revoke ${revoking.name}?`}
          onClose={() => setRevoking(null)}
          footer={
            <>
              <button type="button" className="button" onClick={() => setRevoking(null)}>
                Cancel
              </button>
              <button
                type="button"
                className="button button-danger"
                onClick={async () => {
                  try {
                    await revokeKey.mutateAsync(revoking.id);
                  } catch (err) {
                    setError(errorMessage(err));
                  }
                  setRevoking(null);
                }}
              >
                Revoke key
              </button>
            </>
          }
        >
          <p>Requests using this key will be refused immediately.</p>
        </Modal>
      ) : null}
    </div>
  );
}
