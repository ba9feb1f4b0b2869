import { useState } from 'react';
import { ConfirmDialog } from '@lib/ui/ConfirmDialog';
import { Switch } from '@lib/ui/Switch';
import { describeError } from '@lib/api/errors';

interface Props {
  orchestratorId: string;
  /** From the instance's `status` (`independent`), like its badge. */
  independent: boolean;
  /** Performs the change; the dialog stays open with the error if it fails. */
  onToggle(next: boolean): Promise<unknown>;
}

/** The independence switch: asks for confirmation before switching either way. */
export function IndependenceToggle({ orchestratorId, independent, onToggle }: Props) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const next = !independent;

  const confirm = async () => {
    setBusy(true);
    setError(null);
    try {
      await onToggle(next);
      setAsking(false);
    } catch (e) {
      setError(`Could not change independence mode: ${describeError(e)}`);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="setting-row">
      <div>
        <div className="setting-title">Independence mode</div>
        <div className="muted small">
          When enabled, the orchestrator operates independently: the controller ignores its heartbeats and hides its
          messages.
        </div>
      </div>
      <Switch
        checked={independent}
        tone="red"
        label={`Independence mode for ${orchestratorId}`}
        busy={busy}
        onChange={() => {
          setError(null);
          setAsking(true);
        }}
      />
      {asking && (
        <ConfirmDialog
          title={next ? `Make ${orchestratorId} independent?` : `Bring ${orchestratorId} back under supervision?`}
          confirmLabel={next ? 'Enable independence' : 'Disable independence'}
          tone={next ? 'danger' : 'primary'}
          busy={busy}
          error={error}
          onConfirm={confirm}
          onCancel={() => !busy && setAsking(false)}
        >
          {next ? (
            <p>
              The controller will ignore heartbeats from <strong>{orchestratorId}</strong>, its status becomes{' '}
              <em>independent</em> and its messages are hidden until you switch this off.
            </p>
          ) : (
            <p>
              The controller will process heartbeats from <strong>{orchestratorId}</strong> again; it shows as active
              while connected.
            </p>
          )}
        </ConfirmDialog>
      )}
    </div>
  );
}
