// Small pieces both Rollouts pages show: the state badge and the progress bar.
import type { RolloutOutcomes } from '@lib/api/types';
import { progress, rolloutTone } from '../model';

export function RolloutStateBadge({ state }: { state: string }) {
  return (
    <span className={`badge badge-${rolloutTone(state)} badge-sm`} data-testid="rollout-state" data-state={state}>
      <span className="badge-dot" aria-hidden="true" />
      {state}
    </span>
  );
}

/** Applied (green), failed (red), told and not done (amber), finished otherwise (gray); then the counts. */
export function RolloutProgress({ outcomes: o }: { outcomes: RolloutOutcomes }) {
  const p = progress(o);
  return (
    <div className="rollout-progress">
      <div
        className="progress"
        role="progressbar"
        aria-label="Targets finished"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={p.done}
      >
        <span className="progress-applied" style={{ width: `${p.applied}%` }} />
        <span className="progress-failed" style={{ width: `${p.failed}%` }} />
        <span className="progress-other" style={{ width: `${p.other}%` }} />
        <span className="progress-active" style={{ width: `${p.active}%` }} />
      </div>
      <span className="small muted" data-testid="rollout-counts">
        {o.applied} applied · {o.failed} failed
        {o.pending + o.applying > 0 && ` · ${o.pending + o.applying} in progress`}
        {o.waiting > 0 && ` · ${o.waiting} waiting`}
        {o.offline > 0 && ` · ${o.offline} offline`}
        {o.not_reported > 0 && ` · ${o.not_reported} not reporting`}
        {o.superseded > 0 && ` · ${o.superseded} superseded`} of {o.total}
      </span>
    </div>
  );
}
