import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState } from 'react';
import type { ReactNode } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { configureApi } from '../api/apiFetch';
import { describeError } from '../api/errors';
import { loadSession, saveSession, type Session } from './session';

interface AuthState {
  session: Session | null;
  /** Why the user is on the login page (expired session, logout). */
  notice: string | null;
  signIn(session: Session): void;
  /** Forget the session; `notice` is shown on the login page. */
  signOut(notice?: string): void;
}

const AuthContext = createContext<AuthState | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const queryClient = useQueryClient();
  const [session, setSession] = useState<Session | null>(() => loadSession());
  const [notice, setNotice] = useState<string | null>(null);
  const sessionRef = useRef(session);
  sessionRef.current = session;

  const signOut = useCallback(
    (why?: string) => {
      saveSession(null);
      sessionRef.current = null;
      setSession(null);
      setNotice(why ?? null);
      queryClient.clear();
    },
    [queryClient],
  );

  // Wired during the first render, not in an effect: children's effects run
  // first, and their queries must already carry the token. A 401/403 for a
  // token other than the current one (a request from before a new login) is
  // not this session's end.
  const signOutRef = useRef(signOut);
  signOutRef.current = signOut;
  useState(() => {
    configureApi(
      () => sessionRef.current?.token ?? null,
      (err, token) => {
        if (!sessionRef.current || token !== sessionRef.current.token) return;
        signOutRef.current(`Your session has ended (${describeError(err)}). Please sign in again.`);
      },
    );
    return null;
  });

  const signIn = useCallback((s: Session) => {
    saveSession(s);
    sessionRef.current = s;
    setNotice(null);
    setSession(s);
  }, []);

  // Leave on time when the token expires, rather than at the next failed call.
  useEffect(() => {
    if (!session) return;
    const ms = Date.parse(session.expires_at) - Date.now();
    const t = window.setTimeout(
      () => signOut('Your session has expired. Please sign in again.'),
      Math.max(0, Math.min(ms, 2 ** 31 - 1)),
    );
    return () => window.clearTimeout(t);
  }, [session, signOut]);

  const value = useMemo(() => ({ session, notice, signIn, signOut }), [session, notice, signIn, signOut]);
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthState {
  const ctx = useContext(AuthContext);
  if (!ctx) throw new Error('useAuth outside <AuthProvider>');
  return ctx;
}
