import { useId, useRef } from 'react';
import type { ReactNode } from 'react';
import { Dialog } from './Dialog';
import { FormError } from './form';

interface ConfirmDialogProps {
  title: string;
  children: ReactNode;
  confirmLabel: string;
  cancelLabel?: string;
  tone?: 'danger' | 'primary';
  busy?: boolean;
  /** Shown under the text when the action failed. */
  error?: string | null;
  onConfirm(): void;
  onCancel(): void;
}

/** "Are you sure?" — Cancel has the focus, so Enter alone changes nothing. */
export function ConfirmDialog({
  title,
  children,
  confirmLabel,
  cancelLabel = 'Cancel',
  tone = 'primary',
  busy,
  error,
  onConfirm,
  onCancel,
}: ConfirmDialogProps) {
  const cancelRef = useRef<HTMLButtonElement>(null);
  const textId = useId();
  return (
    <Dialog title={title} onClose={onCancel} initialFocus={cancelRef} role="alertdialog" describedBy={textId}>
      <div id={textId} className="dialog-body">
        {children}
      </div>
      <FormError error={error} />
      <div className="dialog-actions">
        <button ref={cancelRef} type="button" className="btn" onClick={onCancel} disabled={busy}>
          {cancelLabel}
        </button>
        <button
          type="button"
          className={`btn ${tone === 'danger' ? 'btn-danger' : 'btn-primary'}`}
          onClick={onConfirm}
          disabled={busy}
          aria-busy={busy || undefined}
        >
          {busy ? 'Working…' : confirmLabel}
        </button>
      </div>
    </Dialog>
  );
}
