import { useState } from 'react';
import type { Organization } from '@lib/api/types';
import { Dialog } from '@lib/ui/Dialog';
import { FormActions, FormError, TextField } from '@lib/ui/form';
import { ApiError, describeError } from '@lib/api/errors';
import { toast } from '@lib/ui/toasts';
import { useUpdateOrganization } from '../api/updateOrganization';

/**
 * Edit an organization's name and location. What is saved here stays: the
 * orchestrator's handshakes are kept apart as "reported" values.
 */
export function EditOrganizationDialog({ org, onClose }: { org: Organization; onClose(): void }) {
  const id = org.organization_id;
  const update = useUpdateOrganization(id);
  const [name, setName] = useState(org.name ?? '');
  const [location, setLocation] = useState(org.location ?? '');

  const change: { name?: string; location?: string } = {};
  if (name.trim() !== (org.name ?? '')) change.name = name.trim();
  if (location.trim() !== (org.location ?? '')) change.location = location.trim();
  const unchanged = !Object.keys(change).length;

  let error: string | null = null;
  if (update.error) {
    const e = update.error;
    error =
      e instanceof ApiError && e.kind === 'validation'
        ? (e.fieldMessage('name') ?? e.fieldMessage('location') ?? e.detail)
        : `Could not save: ${describeError(e)}`;
  }

  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    if (unchanged) return onClose();
    update.mutate(change, {
      onSuccess: () => {
        toast('success', `Organization ${id} saved.`);
        onClose();
      },
    });
  };

  return (
    <Dialog title={`Edit ${id}`} onClose={() => !update.isPending && onClose()}>
      <form onSubmit={submit} className="form" noValidate data-testid="edit-organization">
        <TextField label="Name" value={name} onChange={setName} autoComplete="off">
          <Reported value={org.reported_name} unless={name} />
        </TextField>
        <TextField label="Location" value={location} onChange={setLocation} autoComplete="off">
          <Reported value={org.reported_location} unless={location} />
        </TextField>
        <p className="muted small">Saved values stay when the orchestrator reconnects and announces others.</p>
        <FormError error={error} />
        <FormActions onCancel={onClose} busy={update.isPending} submit="Save" busyLabel="Saving…" ariaLabel="Save organization" />
      </form>
    </Dialog>
  );
}

/** What the orchestrator announced, when it differs from what is being saved. */
function Reported({ value, unless }: { value: string | null; unless: string }) {
  if (!value || value === unless.trim()) return null;
  return <span className="muted small">Its orchestrator reports “{value}”.</span>;
}
