import { createContext, useCallback, useContext, useEffect, useMemo, useState } from 'react';
import type { ReactNode } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { configureApi } from '../api/client';
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

/**
 * The session the API client sends, kept outside React state so that a request started
 * before a re-render reads the newest token. A 401/403 for a token other than the
 * current one (a request from before a new login) is not this session's end.
 */
class CurrentSession {
  #session: Session | null;
  #signOut: (why: string) => void = () => {};

  constructor(session: Session | null) {
    this.#session = session;
    configureApi(
      () => this.#session?.token ?? null,
      (err, token) => {
        if (!this.#session || token !== this.#session.token) return;
        this.#signOut(`Your session has ended (${describeError(err)}). Please sign in again.`);
      },
    );
  }

  set(session: Session | null) {
    this.#session = session;
  }

  onLost(signOut: (why: string) => void) {
    this.#signOut = signOut;
  }
}

export function AuthProvider({ children }: { children: ReactNode }) {
  const queryClient = useQueryClient();
  const [session, setSession] = useState<Session | null>(() => loadSession());
  const [notice, setNotice] = useState<string | null>(null);
  // What the API client reads, made and wired during the first render, not in an effect:
  // children's effects run first, and their queries must already carry the token.
  const [current] = useState(() => new CurrentSession(session));

  const signOut = useCallback(
    (why?: string) => {
      saveSession(null);
      current.set(null);
      setSession(null);
      setNotice(why ?? null);
      queryClient.clear();
    },
    [queryClient, current],
  );
  useEffect(() => current.onLost(signOut), [current, signOut]);

  const signIn = useCallback(
    (s: Session) => {
      saveSession(s);
      current.set(s);
      setNotice(null);
      setSession(s);
    },
    [current],
  );

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
