import type { JsonObject, Orchestrator, Organization } from '@lib/api/types';

/** Features every card shows a switch for, as the first version did. */
export const KNOWN_FEATURES = ['cache', 'firewall'] as const;

/** The feature keys to show: the known ones and any other key the organization has. */
export function featureKeys(features: JsonObject): string[] {
  const keys = new Set<string>(KNOWN_FEATURES);
  for (const k of Object.keys(features)) keys.add(k);
  return [...keys];
}

/**
 * Whether a feature can be shown as a switch: absent, a boolean (older rows), or
 * the canonical `{"enabled": bool, …}`.
 */
export function isSwitchable(value: unknown): boolean {
  if (value === undefined || value === null || typeof value === 'boolean') return true;
  return typeof value === 'object' && !Array.isArray(value) && typeof (value as { enabled?: unknown }).enabled === 'boolean';
}

/** The canonical shape to write: `{"enabled": on}` with the feature's other keys kept. */
export function featureValue(current: unknown, on: boolean): JsonObject {
  const rest = current && typeof current === 'object' && !Array.isArray(current) ? (current as JsonObject) : {};
  return { ...rest, enabled: on };
}

/** `{"enabled": true}` and `true` both read as on. */
export function featureOn(value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  if (value && typeof value === 'object' && 'enabled' in value) return (value as { enabled: unknown }).enabled === true;
  return false;
}

/**
 * When the organization was last heard from. Heartbeats update the instance's
 * `last_seen`; the organization's own `last_seen` is written at handshake only,
 * so the newest of all of them is the truthful one.
 */
export function lastSeenOf(org: Organization, instances: Orchestrator[] = []): string | null {
  let best = org.last_seen;
  for (const i of instances) {
    for (const t of [i.last_seen, i.last_keepalive]) {
      if (t && (!best || Date.parse(t) > Date.parse(best))) best = t;
    }
  }
  return best;
}

export type StatusFilter = 'all' | 'active' | 'inactive' | 'independent';

export const ORG_ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;
