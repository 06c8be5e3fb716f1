import { useState, type FormEvent } from 'react';
import { api } from '../api/endpoints';
import { errorMessage } from '../api/client';
import { useAuth } from '../auth/AuthContext';

/** Change the password (ends every other session) and log out everywhere. */
export function AccountSecurity() {
  const { signOut } = useAuth();
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  async function changePassword(event: FormEvent) {
    event.preventDefault();
    if (!current || !next) return setError('Enter your current password and a new one');
    setBusy(true);
    setError(null);
    setMessage(null);
    try {
      const { revoked } = await api.changePassword(current, next);
      setCurrent('');
      setNext('');
      setMessage(`Password changed. ${revoked === 1 ? '1 other session was' : `${revoked} other sessions were`} logged out.`);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  }

  async function logOutEverywhere() {
    setBusy(true);
    setError(null);
    try {
      await api.revokeSessions();
      signOut();
    } catch (err) {
      setError(errorMessage(err));
      setBusy(false);
    }
  }

  return (
    <section className="card" aria-labelledby="security-heading">
      <h2 id="security-heading">Security</h2>
      <form className="inline-form" onSubmit={changePassword} noValidate>
        <label className="field grow">
          <span>Current password</span>
          <input
            type="password"
            autoComplete="current-password"
            value={current}
            onChange={(event) => setCurrent(event.target.value)}
            data-testid="current-password"
          />
        </label>
        <label className="field grow">
          <span>New password</span>
          <input
            type="password"
            autoComplete="new-password"
            value={next}
            onChange={(event) => setNext(event.target.value)}
            data-testid="new-password"
          />
        </label>
        <button type="submit" className="button button-primary" disabled={busy} data-testid="change-password">
          Change password
        </button>
      </form>
      {message ? (
        <p className="notice" role="status">
          {message}
        </p>
      ) : null}
      {error ? (
        <p className="form-error" role="alert">
          {error}
        </p>
      ) : null}
      <p className="muted">
        Lost a device? Log out everywhere ends every session of yours, this one included. API keys stay until you
        revoke them.
      </p>
      <button type="button" className="button button-danger" disabled={busy} onClick={logOutEverywhere} data-testid="log-out-everywhere">
        Log out everywhere
      </button>
    </section>
  );
}
