import { createContext, useCallback, useContext, useEffect, useMemo, useSyncExternalStore, type ReactNode } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { setTokenProvider } from '../api/client';
import { isClerkToken, resumeClerkSession } from './clerk';
import { getToken, setToken, subscribeToken } from './token';
import type { AuthResponse } from '../api/types';
import { keys } from '../api/queries';

interface AuthValue {
  token: string | null;
  signIn: (response: AuthResponse) => void;
  signOut: () => void;
}

const AuthContext = createContext<AuthValue | null>(null);

function subscribe(callback: () => void) {
  return subscribeToken(() => callback());
}

export function AuthProvider({ children }: { children: ReactNode }) {
  const client = useQueryClient();
  const token = useSyncExternalStore(subscribe, getToken, () => null);

  useEffect(() => {
    if (isClerkToken(getToken())) void resumeClerkSession().catch(() => undefined);
  }, []);

  const signIn = useCallback(
    (response: AuthResponse) => {
      client.clear();
      client.setQueryData(keys.me, { user: response.user, tenant: response.tenant });
      setToken(response.token);
    },
    [client],
  );

  const signOut = useCallback(() => {
    setTokenProvider(null);
    void window.Clerk?.signOut();
    setToken(null);
    client.clear();
  }, [client]);

  const value = useMemo(() => ({ token, signIn, signOut }), [token, signIn, signOut]);
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthValue {
  const value = useContext(AuthContext);
  if (!value) throw new Error('useAuth outside AuthProvider');
  return value;
}
