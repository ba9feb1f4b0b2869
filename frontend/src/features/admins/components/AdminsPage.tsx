import { useState } from 'react';
import { ApiError, describeError } from '@lib/api/errors';
import { ConfirmDialog } from '@lib/ui/ConfirmDialog';
import { Ago } from '@lib/time/Ago';
import { ErrorState, Loading, PageHeader } from '@lib/ui/states';
import { toast } from '@lib/ui/toasts';
import { FormError, SubmitButton } from '@lib/ui/form';
import { DataTable, type Column } from '@lib/ui/DataTable';
import { useMe } from '../api/getMe';
import { MIN_PASSWORD, usernameProblem } from '../model';
import type { AdminItem } from '@lib/api/types';
import { useAddAdmin, useAdmins, useRemoveAdmin } from '../api/admins';

/**
 * Every admin of the dashboard and API. Superadmins add and remove them (the
 * last admin and the last superadmin stay); others see the list only.
 */
const ADMIN_COLUMNS: Column[] = [
  { label: 'Username' },
  { label: 'Role' },
  { label: 'Password changed' },
  { label: 'Open sessions', num: true },
];

export function AdminsPage() {
  const admins = useAdmins();
  const me = useMe();
  const canManage = me.data?.superadmin === true;
  return (
    <>
      <PageHeader
        title="Admins"
        subtitle={canManage ? 'Who may use the dashboard and API. Removing an admin ends its sessions at once.' : 'Who may use the dashboard and API. Only a superadmin adds or removes admins.'}
      />
      {canManage && <AddAdminForm />}
      <section className="card" aria-label="Admins">
        {admins.isPending ? (
          <Loading what="admins" />
        ) : admins.isError ? (
          <ErrorState what="admins" error={admins.error} onRetry={() => admins.refetch()} />
        ) : (
          <DataTable testId="admins-table" columns={canManage ? [...ADMIN_COLUMNS, { ariaLabel: 'Actions' }] : ADMIN_COLUMNS}>
            {admins.data.data.items.map((a) => (
              <AdminLine key={a.username} admin={a} canManage={canManage} me={me.data?.username} />
            ))}
          </DataTable>
        )}
      </section>
    </>
  );
}

function AdminLine({ admin, canManage, me }: { admin: AdminItem; canManage: boolean; me?: string }) {
  const remove = useRemoveAdmin();
  const [asking, setAsking] = useState(false);
  const error = remove.error ? describeError(remove.error) : null;
  return (
    <tr data-admin={admin.username}>
      <td>
        {admin.username}
        {admin.username === me && <span className="muted small"> (you)</span>}
      </td>
      <td>
        <span className={`badge badge-sm ${admin.superadmin ? 'badge-green' : 'badge-gray'}`}>{admin.superadmin ? 'superadmin' : 'admin'}</span>
      </td>
      <td>
        <Ago iso={admin.password_changed_at} />
      </td>
      <td className="num">{admin.open_sessions}</td>
      {canManage && (
        <td>
          <button type="button" className="btn btn-sm btn-danger" aria-label={`Remove ${admin.username}`} onClick={() => setAsking(true)}>
            Remove
          </button>
          {asking && (
            <ConfirmDialog
              title={`Remove ${admin.username}?`}
              confirmLabel="Remove admin"
              tone="danger"
              busy={remove.isPending}
              error={error}
              onCancel={() => {
                remove.reset();
                setAsking(false);
              }}
              onConfirm={() =>
                remove.mutate(admin.username, {
                  onSuccess: () => {
                    toast('success', `Admin ${admin.username} removed.`);
                    setAsking(false);
                  },
                })
              }
            >
              {admin.username} can no longer log in, and its {admin.open_sessions} open session
              {admin.open_sessions === 1 ? '' : 's'} end now.
            </ConfirmDialog>
          )}
        </td>
      )}
    </tr>
  );
}

export function AddAdminForm() {
  const add = useAddAdmin();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [superadmin, setSuperadmin] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);

  let error = problem;
  if (!error && add.error) {
    const e = add.error;
    error =
      e instanceof ApiError && e.kind === 'conflict'
        ? `An admin called ${username} exists already.`
        : e instanceof ApiError && e.kind === 'validation'
          ? (e.fieldMessage('username') ?? e.fieldMessage('password') ?? e.detail)
          : `Could not add the admin: ${describeError(e)}`;
  }

  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    const name = username.trim();
    const why =
      usernameProblem(name) ?? ([...password].length < MIN_PASSWORD ? `The password needs at least ${MIN_PASSWORD} characters.` : null);
    setProblem(why);
    if (why) return;
    add.mutate(
      { username: name, password, superadmin },
      {
        onSuccess: () => {
          toast('success', `Admin ${name} added.`);
          setUsername('');
          setPassword('');
          setSuperadmin(false);
        },
      },
    );
  };

  return (
    <section className="card" aria-labelledby="add-admin-title">
      <h2 id="add-admin-title">Add an admin</h2>
      <form onSubmit={submit} className="form" noValidate data-testid="add-admin">
        <label className="field">
          <span>Username</span>
          <input className="input" aria-label="New admin's username" value={username} autoComplete="off" onChange={(e) => setUsername(e.target.value)} />
        </label>
        <label className="field">
          <span>Password</span>
          <input type="password" className="input" aria-label="New admin's password" value={password} autoComplete="new-password" onChange={(e) => setPassword(e.target.value)} />
        </label>
        <label className="field-check">
          <input type="checkbox" checked={superadmin} onChange={(e) => setSuperadmin(e.target.checked)} /> Superadmin (may add and remove admins)
        </label>
        <FormError error={error} />
        <div>
          <SubmitButton busy={add.isPending} label="Add admin" busyLabel="Adding…" />
        </div>
      </form>
    </section>
  );
}
