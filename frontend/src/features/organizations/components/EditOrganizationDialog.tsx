import { useState } from 'react';
import type { Organization } from '@lib/api/types';
import { Dialog } from '@lib/ui/Dialog';
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
        <label className="field">
          <span>Name</span>
          <input value={name} onChange={(e) => setName(e.target.value)} aria-label="Name" autoComplete="off" />
          {org.reported_name && org.reported_name !== name.trim() && (
            <span className="muted small">Its orchestrator reports “{org.reported_name}”.</span>
          )}
        </label>
        <label className="field">
          <span>Location</span>
          <input value={location} onChange={(e) => setLocation(e.target.value)} aria-label="Location" autoComplete="off" />
          {org.reported_location && org.reported_location !== location.trim() && (
            <span className="muted small">Its orchestrator reports “{org.reported_location}”.</span>
          )}
        </label>
        <p className="muted small">Saved values stay when the orchestrator reconnects and announces others.</p>
        {error && (
          <p className="form-error" role="alert">
            {error}
          </p>
        )}
        <div className="dialog-actions">
          <button type="button" className="btn" onClick={onClose} disabled={update.isPending}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={update.isPending} aria-label="Save organization">
            {update.isPending ? 'Saving…' : 'Save'}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
