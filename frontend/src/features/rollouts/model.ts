// The rules of the Rollouts pages, kept pure for the unit tests: how a rollout's
// wave and progress read, which actions its state allows, and the create form
// turned into the request body (or the reasons it cannot be).
import type { JsonObject, Rollout, RolloutBody, RolloutOutcomes } from '@lib/api/types';
import type { Tone } from '@lib/ui/StatusBadge';

export const ROLLOUT_STATES = ['running', 'paused', 'aborted', 'completed'] as const;

/** A target's outcomes, in the order a rollout moves them through. */
export const OUTCOMES = [
  'waiting',
  'pending',
  'applying',
  'applied',
  'failed',
  'offline',
  'not_reported',
  'superseded',
] as const;

/** running = amber, paused = red (it needs a decision), completed = green, aborted = gray. */
export function rolloutTone(state: string): Tone {
  switch (state) {
    case 'completed':
      return 'green';
    case 'paused':
      return 'red';
    case 'aborted':
      return 'gray';
    default:
      return 'amber';
  }
}

/**
 * The wave, 1-based: "wave 2 of 4" while one runs; "after wave 1 of 4" when it
 * stopped between two waves; "4 waves" once completed. The API's `wave` is
 * 0-based, the wave in progress (the next one while none has started).
 */
export function waveLabel(r: Pick<Rollout, 'state' | 'wave' | 'waves' | 'wave_started_at'>): string {
  const n = r.waves.length;
  if (r.state === 'completed') return `${n} wave${n === 1 ? '' : 's'} done`;
  const between = !r.wave_started_at && r.wave > 0;
  if (between && r.state !== 'running') return `after wave ${Math.min(r.wave, n)} of ${n}`;
  return `wave ${Math.min(r.wave + 1, n)} of ${n}`;
}

/** Shares of the targets, in percent, for the progress bar; `done` is what has finished. */
export interface Progress {
  applied: number;
  failed: number;
  /** Told and not finished: pending or applying. */
  active: number;
  /** Finished without applying: offline, not reporting, superseded. */
  other: number;
  done: number;
}

export function progress(o: RolloutOutcomes): Progress {
  if (!o.total) return { applied: 0, failed: 0, active: 0, other: 0, done: 0 };
  const pct = (n: number) => Math.round((n / o.total) * 100);
  const finished = o.applied + o.failed + o.offline + o.not_reported + o.superseded;
  return {
    applied: pct(o.applied),
    failed: pct(o.failed),
    active: pct(o.pending + o.applying),
    other: pct(o.offline + o.not_reported + o.superseded),
    done: pct(finished),
  };
}

export type RolloutAction = 'pause' | 'resume' | 'abort';

/** Pause while running, resume while paused, abort either; nothing once aborted or completed. */
export function canAct(state: string, action: RolloutAction): boolean {
  switch (action) {
    case 'pause':
      return state === 'running';
    case 'resume':
      return state === 'paused';
    case 'abort':
      return state === 'running' || state === 'paused';
  }
}

/** One feature to change: its key and whether it ends up on. */
export interface FeatureRow {
  key: string;
  on: boolean;
}

export type SelectorKind = 'ids' | 'location' | 'all';

/** The create form as typed. */
export interface RolloutForm {
  features: FeatureRow[];
  /** A JSON object of settings, or empty. */
  settings: string;
  selector: SelectorKind;
  /** Orchestrator ids, comma-separated. */
  ids: string;
  location: string;
  /** Cumulative percentages, comma-separated. */
  waves: string;
  threshold: string;
  timeout: string;
}

export const DEFAULT_WAVES = [1, 5, 25, 100];
export const DEFAULT_THRESHOLD = 10;
export const DEFAULT_TIMEOUT = 120;

export const EMPTY_FORM: RolloutForm = {
  features: [{ key: '', on: true }],
  settings: '',
  selector: 'ids',
  ids: '',
  location: '',
  waves: DEFAULT_WAVES.join(', '),
  threshold: String(DEFAULT_THRESHOLD),
  timeout: String(DEFAULT_TIMEOUT),
};

export type FormField = 'features' | 'settings' | 'ids' | 'location' | 'waves' | 'threshold' | 'timeout';
export type FormErrors = Partial<Record<FormField, string>>;

export type FormResult = { ok: true; body: RolloutBody } | { ok: false; errors: FormErrors };

const KEY = /^[A-Za-z0-9_.-]{1,64}$/;
const ID = /^[A-Za-z0-9_-]{1,128}$/;

/** A whole number within bounds, or the reason it is not. */
function intIn(text: string, min: number, max: number): number | string {
  const t = text.trim();
  if (!/^\d+$/.test(t)) return `a whole number from ${min} to ${max}`;
  const n = Number(t);
  return n < min || n > max ? `a whole number from ${min} to ${max}` : n;
}

/** Parses "1, 5, 25, 100": increasing percentages ending at 100, at most 10. */
export function parseWaves(text: string): number[] | string {
  const parts = text.split(',').map((p) => p.trim()).filter(Boolean);
  if (!parts.length) return 'at least one wave (the last 100)';
  if (parts.length > 10) return 'at most 10 waves';
  const waves: number[] = [];
  for (const p of parts) {
    if (!/^\d+$/.test(p) || Number(p) < 1 || Number(p) > 100) return `“${p}” is not a percentage from 1 to 100`;
    const n = Number(p);
    if (waves.length && n <= waves[waves.length - 1]) return 'each wave must be above the one before';
    waves.push(n);
  }
  if (waves[waves.length - 1] !== 100) return 'the last wave must be 100';
  return waves;
}

/**
 * The request body of `POST /controller/rollouts`, or what is wrong with the
 * form: features are `{"<key>": {"enabled": bool}}`, empty feature rows are
 * ignored, settings must be a JSON object, and there must be a change.
 */
export function toRolloutBody(form: RolloutForm): FormResult {
  const errors: FormErrors = {};
  const features: JsonObject = {};
  for (const row of form.features) {
    const key = row.key.trim();
    if (!key) continue;
    if (!KEY.test(key)) errors.features = `“${key}” is not a feature key (letters, digits, _ . -)`;
    else if (key in features) errors.features = `“${key}” is named twice`;
    else features[key] = { enabled: row.on };
  }
  let settings: JsonObject = {};
  if (form.settings.trim()) {
    try {
      const parsed: unknown = JSON.parse(form.settings);
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) errors.settings = 'must be a JSON object';
      else settings = parsed as JsonObject;
    } catch {
      errors.settings = 'is not valid JSON';
    }
  }
  if (!errors.features && !errors.settings && !Object.keys(features).length && !Object.keys(settings).length) {
    errors.features = 'name at least one feature or setting to change';
  }

  let selector: RolloutBody['selector'] = {};
  if (form.selector === 'ids') {
    const ids = form.ids.split(',').map((s) => s.trim()).filter(Boolean);
    const bad = ids.find((id) => !ID.test(id));
    if (!ids.length) errors.ids = 'at least one orchestrator id';
    else if (bad) errors.ids = `“${bad}” is not an orchestrator id`;
    else selector = { orchestrator_ids: [...new Set(ids)] };
  } else if (form.selector === 'location') {
    const location = form.location.trim();
    if (!location) errors.location = 'a location';
    else selector = { location };
  } else {
    selector = { all: true };
  }

  const waves = parseWaves(form.waves);
  if (typeof waves === 'string') errors.waves = waves;
  const threshold = intIn(form.threshold, 0, 100);
  if (typeof threshold === 'string') errors.threshold = threshold;
  const timeout = intIn(form.timeout, 5, 86400);
  if (typeof timeout === 'string') errors.timeout = timeout;

  if (Object.keys(errors).length) return { ok: false, errors };
  const change: JsonObject = {};
  if (Object.keys(features).length) change.features = features;
  if (Object.keys(settings).length) change.settings = settings;
  return {
    ok: true,
    body: {
      // The generated type declares these JSON objects as empty records.
      change: change as RolloutBody['change'],
      selector,
      waves: waves as number[],
      failure_threshold_pct: threshold as number,
      wave_timeout_sec: timeout as number,
    },
  };
}

/** "ids a, b" / "location eu-west" / "all orchestrators": what a rollout targets. */
export function describeSelector(selector: JsonObject): string {
  const parts: string[] = [];
  if (selector.all === true) parts.push('all orchestrators');
  const ids = selector.orchestrator_ids;
  if (Array.isArray(ids) && ids.length) parts.push(`ids ${ids.join(', ')}`);
  const orgs = selector.organization_ids;
  if (Array.isArray(orgs) && orgs.length) parts.push(`organizations ${orgs.join(', ')}`);
  if (typeof selector.location === 'string' && selector.location) parts.push(`location ${selector.location}`);
  const labels = selector.labels;
  if (labels && typeof labels === 'object' && Object.keys(labels).length) {
    parts.push(`labels ${Object.entries(labels).map(([k, v]) => `${k}=${String(v)}`).join(', ')}`);
  }
  return parts.join('; ') || 'nothing';
}

/** "beta on, cache off; settings ttl": what a rollout changes. */
export function describeChange(change: JsonObject): string {
  const parts: string[] = [];
  const features = change.features;
  if (features && typeof features === 'object') {
    for (const [k, v] of Object.entries(features)) {
      const on = typeof v === 'boolean' ? v : (v as { enabled?: unknown } | null)?.enabled === true;
      parts.push(`${k} ${on ? 'on' : 'off'}`);
    }
  }
  const settings = change.settings;
  if (settings && typeof settings === 'object' && Object.keys(settings).length) {
    parts.push(`settings ${Object.keys(settings).join(', ')}`);
  }
  return parts.join(', ') || 'nothing';
}
