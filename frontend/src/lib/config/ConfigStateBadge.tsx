import { configStateLabel, configStateTone } from './state';

/** A configuration state (or a rollout target's outcome) as a badge. */
export function ConfigStateBadge({ state, size }: { state: string; size?: 'sm' }) {
  return (
    <span
      className={`badge badge-${configStateTone(state)}${size === 'sm' ? ' badge-sm' : ''}`}
      data-state={state}
      data-testid="config-state"
    >
      <span className="badge-dot" aria-hidden="true" />
      {configStateLabel(state)}
    </span>
  );
}
