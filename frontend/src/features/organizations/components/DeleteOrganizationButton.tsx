import { useState } from 'react';
import { ConfirmDialog } from '@lib/ui/ConfirmDialog';
import { IconTrash } from '@lib/ui/icons';
import { describeError } from '@lib/api/errors';
import { toast } from '@lib/ui/toasts';
import { useDeleteOrganization } from '../api/deregisterOrchestrator';

interface Props {
  organizationId: string;
  name: string;
  instanceIds: string[];
  /** The instances are not known yet. */
  loading?: boolean;
  onDeleted?(): void;
}

/** Trash button + confirmation: deregisters every instance, which removes the organization. */
export function DeleteOrganizationButton({ organizationId, name, instanceIds, loading, onDeleted }: Props) {
  const [asking, setAsking] = useState(false);
  const del = useDeleteOrganization();
  // The API deletes organizations only through their instances' deregistration.
  const impossible = !loading && instanceIds.length === 0;
  return (
    <>
      <button
        type="button"
        className="icon-btn danger"
        aria-label={`Delete organization ${organizationId}`}
        title={
          impossible
            ? 'This organization has no instance to deregister; the API cannot delete it'
            : loading
              ? 'Loading its instances…'
              : 'Delete'
        }
        disabled={impossible || loading}
        onClick={() => {
          del.reset();
          setAsking(true);
        }}
      >
        <IconTrash />
      </button>
      {asking && (
        <ConfirmDialog
          title={`Delete ${name || organizationId}?`}
          confirmLabel="Delete organization"
          tone="danger"
          busy={del.isPending}
          error={del.error ? `Could not delete: ${describeError(del.error)}` : null}
          onCancel={() => !del.isPending && setAsking(false)}
          onConfirm={() =>
            del.mutate(
              { organizationId, instanceIds },
              {
                onSuccess: () => {
                  setAsking(false);
                  toast('success', `Organization ${organizationId} deleted.`);
                  onDeleted?.();
                },
              },
            )
          }
        >
          <p>
            This deregisters {instanceIds.length === 1 ? 'its instance' : `its ${instanceIds.length} instances`} (
            <code>{instanceIds.join(', ')}</code>), deletes their messages, closes their connections and removes the
            organization <strong>{organizationId}</strong>. It cannot be undone.
          </p>
          <p data-testid="deregister-reconnect">
            If its orchestrator client connects again, it is refused (close code 4001, “deregistered”) until the
            organization is added again.
          </p>
        </ConfirmDialog>
      )}
    </>
  );
}
