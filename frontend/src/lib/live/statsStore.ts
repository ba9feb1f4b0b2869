import { useSyncExternalStore } from 'react';
import type { Stats } from '../api/types';

export interface StatsPoint extends Stats {
  /** When the event arrived (ms since epoch). */
  t: number;
}

/** How many seconds of `stats` events the chart keeps. */
export const STATS_WINDOW = 120;

interface Snapshot {
  latest: StatsPoint | null;
  points: StatsPoint[];
}

let snapshot: Snapshot = { latest: null, points: [] };
const listeners = new Set<() => void>();

export function pushStats(s: Stats, t: number = Date.now()): void {
  const point = { ...s, t };
  const points = [...snapshot.points, point].slice(-STATS_WINDOW);
  snapshot = { latest: point, points };
  listeners.forEach((l) => l());
}

export function resetStats(): void {
  snapshot = { latest: null, points: [] };
  listeners.forEach((l) => l());
}

function subscribe(cb: () => void) {
  listeners.add(cb);
  return () => listeners.delete(cb);
}

/** The last {@link STATS_WINDOW} `stats` events of the live stream. */
export function useStats(): Snapshot {
  return useSyncExternalStore(subscribe, () => snapshot);
}
