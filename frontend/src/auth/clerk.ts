// Clerk sign-in, when the server says Clerk is configured (GET /api/auth/config). Clerk's own
// browser bundle is loaded from the instance's Frontend API (the host encoded in the
// publishable key), as Clerk's script-tag install does; no Clerk code ships in our bundle.
// Clerk session tokens live a minute: every API request asks Clerk for a fresh one.
import { apiRequest, setTokenProvider } from '../api/client';
import { setToken } from './token';

export interface ClerkSession {
  getToken: () => Promise<string | null>;
}

export interface ClerkGlobal {
  load: () => Promise<void>;
  session: ClerkSession | null | undefined;
  mountSignIn: (node: HTMLDivElement, props?: Record<string, unknown>) => void;
  unmountSignIn: (node: HTMLDivElement) => void;
  addListener: (listener: (resources: { session?: ClerkSession | null }) => void) => () => void;
  signOut: () => Promise<void>;
}

declare global {
  interface Window {
    Clerk?: ClerkGlobal;
  }
}

/** The Frontend API host of a publishable key: `pk_test_<base64("host$")>`. */
export function frontendApiOf(publishableKey: string): string | null {
  const match = /^pk_(test|live)_(.+)$/.exec(publishableKey);
  if (!match) return null;
  try {
    const decoded = atob(match[2].replace(/-/g, '+').replace(/_/g, '/'));
    return decoded.endsWith('$') && decoded.length > 1 ? decoded.slice(0, -1) : null;
  } catch {
    return null;
  }
}

let loading: Promise<ClerkGlobal> | null = null;

export function loadClerk(publishableKey: string): Promise<ClerkGlobal> {
  if (loading) return loading;
  const host = frontendApiOf(publishableKey);
  if (!host) return Promise.reject(new Error('CLERK_PUBLISHABLE_KEY is not a Clerk publishable key'));
  loading = new Promise<ClerkGlobal>((resolve, reject) => {
    const script = document.createElement('script');
    script.src = `https://${host}/npm/@clerk/clerk-js@5/dist/clerk.browser.js`;
    script.async = true;
    script.crossOrigin = 'anonymous';
    script.setAttribute('data-clerk-publishable-key', publishableKey);
    script.onload = async () => {
      const clerk = window.Clerk;
      if (!clerk) return reject(new Error('Clerk did not load'));
      await clerk.load();
      resolve(clerk);
    };
    script.onerror = () => reject(new Error(`Clerk could not be loaded from ${host}`));
    document.head.appendChild(script);
  });
  return loading;
}

/** Use the Clerk session for every API request (and mark the app signed in). */
export async function adoptClerkSession(session: ClerkSession): Promise<void> {
  setTokenProvider(() => session.getToken());
  setToken(await session.getToken());
}

/** Whether a stored token is a Clerk session token (a JWT) rather than one of ours (`fps_…`). */
export function isClerkToken(token: string | null): boolean {
  return Boolean(token && /^[\w-]+\.[\w-]+\.[\w-]+$/.test(token));
}

/** After a reload the stored Clerk token has a minute to live at most: when Clerk still holds
 * the session (its cookie), go back to asking it for fresh tokens. */
export async function resumeClerkSession(): Promise<void> {
  const config = await apiRequest<{ clerk_publishable_key: string | null }>('/api/auth/config', { anonymous: true });
  if (!config.clerk_publishable_key) return;
  const clerk = await loadClerk(config.clerk_publishable_key);
  if (clerk.session) await adoptClerkSession(clerk.session);
}
