interface SwitchProps {
  checked: boolean;
  onChange(next: boolean): void;
  /** Required: a switch has no visible text of its own. */
  label: string;
  disabled?: boolean;
  busy?: boolean;
  tone?: 'orange' | 'red';
}

/** An on/off switch: a button with role="switch", Space/Enter toggle it. */
export function Switch({ checked, onChange, label, disabled, busy, tone = 'orange' }: SwitchProps) {
  return (
    <button
      type="button"
      role="switch"
      aria-checked={checked}
      aria-label={label}
      aria-busy={busy || undefined}
      disabled={disabled || busy}
      className={`switch switch-${tone}${checked ? ' on' : ''}${busy ? ' busy' : ''}`}
      onClick={() => onChange(!checked)}
    >
      <span className="switch-thumb" aria-hidden="true" />
    </button>
  );
}
