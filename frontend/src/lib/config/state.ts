// Where an orchestrator is with its configuration, worded one way everywhere
// (the organization's Configuration panel, the fleet's Configuration page and
// the rollouts' targets). Used by more than one feature, so it lives in lib.
import type { OrchestratorConfig } from '../api/types';
import type { Tone } from '../ui/StatusBadge';

/** The states `GET /controller/config?state=` filters by. */
export const CONFIG_STATES = ['in_sync', 'applying', 'failed', 'pending', 'not_reported'] as const;
export type ConfigState = (typeof CONFIG_STATES)[number];

/**
 * The state of one orchestrator's configuration, by the API's rules: it never
 * said anything (`not_reported`), it runs the desired content (`in_sync`), it
 * reported other content and is waiting for the desired one (`pending`), or it
 * is applying it or failed to.
 */
export function configState(c: Pick<OrchestratorConfig, 'in_sync' | 'desired' | 'reported'>): ConfigState {
  const status = c.reported.status;
  if (status === 'not_reported' || !status) return 'not_reported';
  if (c.in_sync) return 'in_sync';
  if (c.reported.hash !== c.desired.hash) return 'pending';
  if (status === 'applying') return 'applying';
  if (status === 'failed') return 'failed';
  // Applied, yet not in sync: the controller is still waiting for it.
  return 'pending';
}

/** What a state reads as: `not_reported` is "not reporting", never "applied". */
export function configStateLabel(state: string): string {
  switch (state) {
    case 'in_sync':
      return 'in sync';
    case 'not_reported':
      return 'not reporting';
    default:
      return state.replace(/_/g, ' ');
  }
}

/** in sync = green, failed = red, not reporting = gray, applying and pending amber. */
export function configStateTone(state: string): Tone {
  switch (state) {
    case 'in_sync':
    case 'applied':
      return 'green';
    case 'failed':
      return 'red';
    case 'not_reported':
    case 'waiting':
    case 'superseded':
    case 'offline':
      return 'gray';
    default:
      return 'amber';
  }
}

/**
 * Drift: the orchestrator reported content other than the desired one. Nothing
 * reported is not drift (it is "not reporting").
 */
export function hasDrift(c: Pick<OrchestratorConfig, 'desired' | 'reported'>): boolean {
  return !!c.reported.hash && c.reported.hash !== c.desired.hash;
}

/** The first 8 characters of a content hash, enough to tell two apart. */
export function shortHash(hash: string | null | undefined): string {
  return hash ? hash.slice(0, 8) : '—';
}

/** "r3", or "—" when there is no such revision. */
export function revisionLabel(revision: number | null | undefined): string {
  return revision === null || revision === undefined ? '—' : `r${revision}`;
}
