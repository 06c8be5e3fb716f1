// The session token lives in localStorage so a reload keeps the user signed in.
const STORAGE_KEY = 'flowplane.token';

type Listener = (token: string | null) => void;
const listeners = new Set<Listener>();

function storage(): Storage | null {
  try {
    return typeof window !== 'undefined' ? window.localStorage : null;
  } catch {
    return null;
  }
}

export function getToken(): string | null {
  return storage()?.getItem(STORAGE_KEY) ?? null;
}

export function setToken(token: string | null): void {
  const store = storage();
  if (store) {
    if (token) store.setItem(STORAGE_KEY, token);
    else store.removeItem(STORAGE_KEY);
  }
  for (const listener of listeners) listener(token);
}

export function subscribeToken(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
