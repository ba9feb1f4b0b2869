import type { ReactNode } from 'react';

/**
 * A labelled text input; `children` go under it (a hint, what the orchestrator
 * reports). The visible label is also the accessible name the tests find it by.
 */
export function TextField({
  label,
  value,
  onChange,
  placeholder,
  autoComplete,
  children,
}: {
  label: string;
  value: string;
  onChange(value: string): void;
  placeholder?: string;
  autoComplete?: string;
  children?: ReactNode;
}) {
  return (
    <label className="field">
      <span>{label}</span>
      <input
        value={value}
        onChange={(e) => onChange(e.target.value)}
        placeholder={placeholder}
        aria-label={label}
        autoComplete={autoComplete}
      />
      {children}
    </label>
  );
}

/** Why the last submit failed, announced to screen readers; nothing when it did not. */
export function FormError({ error }: { error: string | null | undefined }) {
  if (!error) return null;
  return (
    <p className="form-error" role="alert">
      {error}
    </p>
  );
}

/** Cancel and submit of a dialog's form; both wait while the request runs. */
export function FormActions({
  onCancel,
  busy,
  submit,
  busyLabel,
  ariaLabel,
}: {
  onCancel(): void;
  busy: boolean;
  submit: string;
  busyLabel: string;
  ariaLabel: string;
}) {
  return (
    <div className="dialog-actions">
      <button type="button" className="btn" onClick={onCancel} disabled={busy}>
        Cancel
      </button>
      <SubmitButton busy={busy} label={submit} busyLabel={busyLabel} ariaLabel={ariaLabel} />
    </div>
  );
}

/** A form's submit button, which says that it is working and waits meanwhile. */
export function SubmitButton({
  busy,
  label,
  busyLabel,
  ariaLabel,
}: {
  busy: boolean;
  label: string;
  busyLabel: string;
  ariaLabel?: string;
}) {
  return (
    <button type="submit" className="btn btn-primary" disabled={busy} aria-label={ariaLabel}>
      {busy ? busyLabel : label}
    </button>
  );
}
