import { useState } from 'react';
import { useNavigate, useParams } from 'react-router';
import { errorMessage } from '../api/client';
import { useAuth } from '../auth/AuthContext';
import { billingApi } from './api';

/** /invite/:token — the single-use link an admin sent: join that workspace as yourself. */
export default function InvitePage() {
  const { token = '' } = useParams();
  const { signIn } = useAuth();
  const navigate = useNavigate();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  async function accept() {
    setBusy(true);
    setError(null);
    try {
      signIn(await billingApi.accept(token));
      navigate('/dashboard');
    } catch (err) {
      setError(errorMessage(err));
      setBusy(false);
    }
  }
  return (
    <div className="page narrow">
      <h1>Join a workspace</h1>
      <p>You were invited to a Flowplane workspace. Joining keeps your own workspace; switch between them in the header.</p>
      <button type="button" className="button button-primary" disabled={busy} onClick={accept} data-testid="accept-invitation">
        Join workspace
      </button>
      {error ? (
        <p className="form-error" role="alert">
          {error}
        </p>
      ) : null}
    </div>
  );
}
