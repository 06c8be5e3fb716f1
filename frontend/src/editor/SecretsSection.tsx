// The flow's credentials: names of its secrets; set, replace or delete one. Values are write-only.
import { useState, type FormEvent } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { errorMessage } from '../api/client';
import { api } from '../api/endpoints';
import { keys, useSecretNames } from '../api/queries';

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function SecretsSection({ flowId }: { flowId: string }) {
  const client = useQueryClient();
  const secrets = useSecretNames(flowId);
  const [name, setName] = useState('');
  const [value, setValue] = useState('');
  const [note, setNote] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const names = secrets.data?.names ?? [];

  async function write(values: Record<string, string | null>, done: string) {
    setBusy(true);
    setError(null);
    try {
      const result = await api.updateSecrets(flowId, values);
      client.setQueryData(keys.secrets(flowId), result);
      setNote(result.restart_required ? `${done} The running pump sees it after its next start.` : done);
      return true;
    } catch (err) {
      setError(errorMessage(err));
      return false;
    } finally {
      setBusy(false);
    }
  }

  async function submit(event: FormEvent) {
    event.preventDefault();
    const trimmed = name.trim();
    if (!NAME.test(trimmed)) {
      setError('A secret name is letters, digits and _ and does not start with a digit (used as ${secrets.NAME}).');
      return;
    }
    if (!value) {
      setError('Enter the secret value.');
      return;
    }
    const replaced = names.includes(trimmed);
    if (await write({ [trimmed]: value }, `${replaced ? 'Replaced' : 'Saved'} ${trimmed}.`)) {
      setName('');
      setValue('');
    }
  }

  return (
    <section aria-labelledby="secrets-heading" data-testid="secrets-section">
      <h3 id="secrets-heading">Secrets</h3>
      <p className="muted small">
        Use as <code>{'${secrets.NAME}'}</code> in a node. Values are stored encrypted and never shown again.
      </p>
      {names.length ? (
        <ul className="secret-names" data-testid="secret-names">
          {names.map((secret) => (
            <li key={secret}>
              <code>{secret}</code>
              <button type="button" className="link-button" onClick={() => setName(secret)} aria-label={`Replace ${secret}`}>
                Replace
              </button>
              <button
                type="button"
                className="link-button error-text"
                disabled={busy}
                onClick={() => void write({ [secret]: null }, `Deleted ${secret}.`)}
                aria-label={`Delete ${secret}`}
                data-testid={`secret-delete-${secret}`}
              >
                Delete
              </button>
            </li>
          ))}
        </ul>
      ) : (
        <p className="muted">{secrets.isPending ? 'Loading…' : 'No secrets yet.'}</p>
      )}
      <form onSubmit={submit} className="secret-form" noValidate>
        <input
          value={name}
          onChange={(event) => setName(event.target.value)}
          placeholder="NAME"
          aria-label="Secret name"
          data-testid="secret-name"
          autoComplete="off"
        />
        <input
          type="password"
          value={value}
          onChange={(event) => setValue(event.target.value)}
          placeholder="value"
          aria-label="Secret value"
          data-testid="secret-value"
          autoComplete="new-password"
        />
        <button type="submit" className="button button-small" disabled={busy} data-testid="secret-save">
          {names.includes(name.trim()) ? 'Replace' : 'Add'}
        </button>
      </form>
      {note ? (
        <p className="muted small" role="status" data-testid="secret-note">
          {note}
        </p>
      ) : null}
      {error ? (
        <p className="form-error" role="alert">
          {error}
        </p>
      ) : null}
    </section>
  );
}
