import { useState } from 'react';
import { Link } from 'react-router';
import { Dialog } from '@lib/ui/Dialog';
import { FormActions, FormError, TextField } from '@lib/ui/form';
import { ApiError, describeError } from '@lib/api/errors';
import { useRegisterOrganization } from '../api/registerOrganization';
import { ORG_ID_PATTERN } from '../model';
import { useOrganizationExists } from '../api/organizationExists';
import { ConnectOrchestrator } from './ConnectOrchestrator';

interface Props {
  onClose(): void;
}

/**
 * "Add New Organization": registers an organization with an instance of the same
 * id. `register` updates an existing id (it answers `created: false`), so the
 * dialog refuses an id the server knows and points to where it is edited. Once
 * created, it shows how to connect the orchestrator with the token `register`
 * answered, which nothing can show again.
 */
export function AddOrganizationDialog({ onClose }: Props) {
  const register = useRegisterOrganization();
  const [id, setId] = useState('');
  const [name, setName] = useState('');
  const [location, setLocation] = useState('');
  const [touched, setTouched] = useState(false);
  /** Registered meanwhile by someone else: the API updated it instead of creating it. */
  const [updatedInstead, setUpdatedInstead] = useState<string | null>(null);
  const [created, setCreated] = useState<{ id: string; token: string | null } | null>(null);

  const trimmed = id.trim();
  const taken = useOrganizationExists(trimmed);
  let idError: string | null = null;
  if (!trimmed) idError = 'Enter an organization ID.';
  else if (!ORG_ID_PATTERN.test(trimmed)) idError = 'Use 1–128 letters, digits, "_" or "-".';
  const existing = !!trimmed && ORG_ID_PATTERN.test(trimmed) && (taken.data === true || updatedInstead === trimmed);
  if (existing) idError = `An organization with ID ${trimmed} already exists.`;

  let apiError: string | null = null;
  if (register.error) {
    const e = register.error;
    apiError =
      e instanceof ApiError && e.kind === 'validation'
        ? (e.fieldMessage('organization_id') ?? e.detail)
        : `Could not create the organization: ${describeError(e)}`;
  }

  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    setTouched(true);
    if (idError) return;
    register.mutate(
      { organization_id: trimmed, name: name.trim(), location: location.trim() },
      {
        onSuccess: (a) => {
          if (a.created === false) {
            setUpdatedInstead(a.organization_id);
            return;
          }
          setCreated({ id: a.orchestrator_id, token: a.orchestrator_token });
        },
      },
    );
  };

  if (created) {
    return (
      // Escape and the backdrop do nothing here: a stray key would lose the token for good.
      <Dialog title={`Connect ${created.id}`} onClose={() => {}} wide>
        <ConnectOrchestrator orchestratorId={created.id} token={created.token} onDone={onClose} />
      </Dialog>
    );
  }

  return (
    <Dialog title="Add New Organization" onClose={() => !register.isPending && onClose()}>
      <form onSubmit={submit} className="form" noValidate>
        <label className="field">
          <span>Organization ID</span>
          <input
            value={id}
            onChange={(e) => setId(e.target.value)}
            onBlur={() => setTouched(true)}
            placeholder="org-005"
            aria-label="Organization ID"
            aria-invalid={touched && !!idError}
            aria-describedby="new-org-id-help"
            autoComplete="off"
            required
          />
          <span id="new-org-id-help" className={touched && idError ? 'field-error' : 'muted small'}>
            {touched && idError ? idError : 'Also the orchestrator ID its client connects with.'}
          </span>
          {touched && existing && (
            <span className="muted small" data-testid="edit-existing">
              To change its name or location, edit it on its{' '}
              <Link to={`/organizations/${encodeURIComponent(trimmed)}?edit=1`} onClick={onClose}>
                Details page
              </Link>
              .
            </span>
          )}
        </label>
        <TextField label="Name" value={name} onChange={setName} placeholder="Demo Company" />
        <TextField label="Location" value={location} onChange={setLocation} placeholder="us-west-2" />
        <FormError error={apiError} />
        <FormActions
          onCancel={onClose}
          busy={register.isPending}
          submit="Create"
          busyLabel="Creating…"
          ariaLabel="Create organization"
        />
      </form>
    </Dialog>
  );
}
