import { useState } from 'react';
import { ApiError, describeError } from '@lib/api/errors';
import { ErrorState, Loading, PageHeader } from '@lib/ui/states';
import { toast } from '@lib/ui/toasts';
import { FormError, SubmitButton } from '@lib/ui/form';
import { useChangePassword } from '../api/changePassword';
import { useMe } from '../api/getMe';
import { newPasswordProblem } from '../model';

/** The signed-in admin: who it is, and a form to change its own password. */
export function AccountPage() {
  const me = useMe();
  return (
    <>
      <PageHeader title="Account" subtitle="Your admin account and its password." />
      <section className="card" aria-label="Who you are">
        {me.isPending ? (
          <Loading what="your account" />
        ) : me.isError ? (
          <ErrorState what="your account" error={me.error} onRetry={() => me.refetch()} />
        ) : (
          <p data-testid="account-who">
            Signed in as <strong>{me.data.username}</strong>{' '}
            <span className={`badge badge-sm ${me.data.superadmin ? 'badge-green' : 'badge-gray'}`}>
              {me.data.superadmin ? 'superadmin' : 'admin'}
            </span>
          </p>
        )}
      </section>
      <ChangePasswordForm />
    </>
  );
}

function PasswordField({ label, value, onChange, autoComplete }: { label: string; value: string; onChange(v: string): void; autoComplete: string }) {
  return (
    <label className="field">
      <span>{label}</span>
      <input type="password" className="input" aria-label={label} value={value} autoComplete={autoComplete} onChange={(e) => onChange(e.target.value)} />
    </label>
  );
}

export function ChangePasswordForm() {
  const change = useChangePassword();
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [repeat, setRepeat] = useState('');
  const [problem, setProblem] = useState<string | null>(null);

  let error = problem;
  if (!error && change.error) {
    const e = change.error;
    error =
      e instanceof ApiError && e.kind === 'validation'
        ? e.fieldMessage('current_password')
          ? 'The current password is not correct.'
          : (e.fieldMessage('new_password') ?? e.detail)
        : `Could not change the password: ${describeError(e)}`;
  }

  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    const why = current ? newPasswordProblem(current, next, repeat) : 'Enter your current password.';
    setProblem(why);
    if (why) return;
    change.mutate(
      { current, next },
      {
        onSuccess: (done) => {
          const ended = done.sessions_ended;
          toast('success', `Password changed.${ended ? ` ${ended} other session${ended === 1 ? '' : 's'} ended.` : ''}`);
          setCurrent('');
          setNext('');
          setRepeat('');
        },
      },
    );
  };

  return (
    <section className="card" aria-labelledby="change-password-title">
      <h2 id="change-password-title">Change password</h2>
      <form onSubmit={submit} className="form" noValidate data-testid="change-password">
        <PasswordField label="Current password" value={current} onChange={setCurrent} autoComplete="current-password" />
        <PasswordField label="New password" value={next} onChange={setNext} autoComplete="new-password" />
        <PasswordField label="Repeat the new password" value={repeat} onChange={setRepeat} autoComplete="new-password" />
        <p className="muted small">At least 12 characters. Your other sessions end; this one stays.</p>
        <FormError error={error} />
        <div>
          <SubmitButton busy={change.isPending} label="Change password" busyLabel="Changing…" />
        </div>
      </form>
    </section>
  );
}
