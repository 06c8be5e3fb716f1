import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { Link, Navigate, useNavigate, useSearchParams } from 'react-router';
import { api } from '../api/endpoints';
import { errorMessage } from '../api/client';
import { apiRequest } from '../api/client';
import { useAuth } from '../auth/AuthContext';
import { loadClerk, adoptClerkSession } from '../auth/clerk';

interface AuthConfig {
  clerk_publishable_key: string | null;
}

/** Clerk's sign-in, mounted when the server has Clerk configured. */
function ClerkSignIn({ publishableKey, onSignedIn }: { publishableKey: string; onSignedIn: () => void }) {
  const node = useRef<HTMLDivElement>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let stop: (() => void) | undefined;
    const target = node.current;
    loadClerk(publishableKey)
      .then(async (clerk) => {
        const signedIn = async (session: { getToken: () => Promise<string | null> }) => {
          await adoptClerkSession(session);
          onSignedIn();
        };
        if (clerk.session) return signedIn(clerk.session);
        if (target) clerk.mountSignIn(target);
        stop = clerk.addListener(({ session }) => {
          if (session) void signedIn(session);
        });
      })
      .catch((err: unknown) => setError(err instanceof Error ? err.message : String(err)));
    return () => {
      stop?.();
      if (target) window.Clerk?.unmountSignIn(target);
    };
  }, [publishableKey, onSignedIn]);
  return (
    <div className="auth-card" data-testid="clerk-sign-in">
      <div ref={node} />
      {error ? <p className="form-error">{error}</p> : null}
    </div>
  );
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
export const MIN_PASSWORD = 8;

export function AuthPage({ mode }: { mode: 'login' | 'signup' }) {
  const { token, signIn } = useAuth();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const next = safeNext(params.get('next'));
  const isSignup = mode === 'signup';
  const [clerkKey, setClerkKey] = useState<string | null>(null);
  useEffect(() => {
    apiRequest<AuthConfig>('/api/auth/config', { anonymous: true })
      .then((config) => setClerkKey(config.clerk_publishable_key))
      .catch(() => setClerkKey(null));
  }, []);

  const clerkSignedIn = useCallback(() => navigate(next, { replace: true }), [navigate, next]);

  if (token) return <Navigate to={next} replace />;

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!EMAIL.test(email.trim())) return setError('Enter a valid email address');
    if (isSignup && password.length < MIN_PASSWORD) {
      return setError(`Use at least ${MIN_PASSWORD} characters for the password`);
    }
    if (!password) return setError('Enter your password');
    setBusy(true);
    setError(null);
    try {
      const response = isSignup ? await api.signup(email.trim(), password) : await api.login(email.trim(), password);
      signIn(response);
      navigate(next, { replace: true });
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="auth-page">
      {clerkKey ? <ClerkSignIn publishableKey={clerkKey} onSignedIn={clerkSignedIn} /> : null}
      <form className="auth-card" onSubmit={submit} noValidate aria-label={isSignup ? 'Sign up' : 'Log in'}>
        <div className="brand brand-large">
          <img src="/favicon.svg" alt="" width={28} height={28} /> Flowplane
        </div>
        <h1>{isSignup ? 'Create your account' : 'Log in'}</h1>
        <label className="field">
          <span>Email</span>
          <input
            type="email"
            autoComplete="email"
            value={email}
            onChange={(event) => setEmail(event.target.value)}
            aria-label="Email"
            data-testid="auth-email"
            required
          />
        </label>
        <label className="field">
          <span>Password</span>
          <input
            type="password"
            autoComplete={isSignup ? 'new-password' : 'current-password'}
            value={password}
            onChange={(event) => setPassword(event.target.value)}
            aria-label="Password"
            data-testid="auth-password"
            required
          />
          {isSignup ? <small className="hint">At least {MIN_PASSWORD} characters</small> : null}
        </label>
        {error ? (
          <p className="form-error" role="alert" data-testid="auth-error">
            {error}
          </p>
        ) : null}
        <button type="submit" className="button button-primary" disabled={busy} data-testid="auth-submit">
          {busy ? 'Please wait…' : isSignup ? 'Sign up' : 'Log in'}
        </button>
        <p className="muted">
          {isSignup ? (
            <>
              Already have an account? <Link to={`/login${params.toString() ? `?${params}` : ''}`}>Log in</Link>
            </>
          ) : (
            <>
              New here? <Link to={`/signup${params.toString() ? `?${params}` : ''}`} data-testid="goto-signup">Create an account</Link>
            </>
          )}
        </p>
      </form>
    </main>
  );
}

/** Only same-app paths are followed after login. */
export function safeNext(value: string | null): string {
  if (!value || !value.startsWith('/') || value.startsWith('//')) return '/dashboard';
  return value;
}
