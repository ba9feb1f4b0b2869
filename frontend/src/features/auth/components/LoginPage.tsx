import { useState } from 'react';
import { Navigate, useLocation } from 'react-router';
import { useAuth } from '@lib/auth/AuthProvider';
import { ApiError, describeError } from '@lib/api/errors';
import { IconEye, Logo } from '@lib/ui/icons';
import { FormError } from '@lib/ui/form';
import { useLogin } from '../api/login';

export function LoginPage() {
  const { session, notice, signIn } = useAuth();
  const location = useLocation();
  const login = useLogin();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [show, setShow] = useState(false);

  const from = (location.state as { from?: string } | null)?.from ?? '/';
  if (session) return <Navigate to={from} replace />;

  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    login.mutate(
      { username: username.trim(), password },
      { onSuccess: (a) => signIn({ token: a.token, username: a.username, expires_at: a.expires_at }) },
    );
  };

  let error: string | null = null;
  if (login.error) {
    const err = login.error;
    if (err instanceof ApiError && err.kind === 'unauthorized') error = 'Invalid username or password.';
    else if (err instanceof ApiError && err.kind === 'rate_limited') {
      // The wait grows from 1 s after a few failures; a busy core asks for 1 s.
      const s = err.retryAfter;
      const when = !s ? 'later' : s < 120 ? `in ${s} s` : `in ${Math.ceil(s / 60)} min`;
      error = /in progress/.test(err.detail)
        ? `Too many logins at once. Try again ${when}.`
        : `Too many failed logins. Try again ${when}.`;
    }
    else if (err instanceof ApiError && err.kind === 'network') error = 'The controller is not reachable.';
    else error = `Login failed: ${describeError(err)}`;
  }

  return (
    <main className="login-page">
      <form className="login-card" onSubmit={submit} aria-labelledby="login-title" noValidate>
        <div className="login-brand">
          <Logo size={48} />
          <span className="login-name">Moolai</span>
          <span className="pill-outline">Super admin login</span>
        </div>
        <h1 id="login-title">Sign in to the controller</h1>
        {notice && (
          <p className="notice" role="status">
            {notice}
          </p>
        )}
        <label className="field">
          <span>Username</span>
          <input
            name="username"
            autoComplete="username"
            value={username}
            onChange={(e) => setUsername(e.target.value)}
            required
            autoFocus
            aria-label="Username"
          />
        </label>
        <label className="field">
          <span>Password</span>
          <span className="input-with-btn">
            <input
              name="password"
              type={show ? 'text' : 'password'}
              autoComplete="current-password"
              value={password}
              onChange={(e) => setPassword(e.target.value)}
              required
              aria-label="Password"
            />
            <button
              type="button"
              className="icon-btn"
              aria-label={show ? 'Hide password' : 'Show password'}
              aria-pressed={show}
              onClick={() => setShow((s) => !s)}
            >
              <IconEye off={show} />
            </button>
          </span>
        </label>
        <FormError error={error} />
        <button
          type="submit"
          className="btn btn-primary btn-block"
          disabled={login.isPending || !username.trim() || !password}
          aria-label="Log in"
        >
          {login.isPending ? 'Signing in…' : 'Login'}
        </button>
      </form>
    </main>
  );
}
