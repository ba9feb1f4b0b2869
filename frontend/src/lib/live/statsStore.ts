import { useSyncExternalStore } from 'react';
import type { Stats } from '../api/types';

export interface StatsPoint extends Stats {
  /** Heartbeats received per second (processed + ignored). */
  received: number;
  processed: number;
  ignored: number;
}

/** How many seconds of `stats` points the chart keeps (core keeps as many). */
export const STATS_WINDOW = 120;
/** The averaging window core and edges use, until the stream says otherwise. */
export const DEFAULT_RATE_WINDOW_SEC = 30;

interface Snapshot {
  latest: StatsPoint | null;
  points: StatsPoint[];
}

let snapshot: Snapshot = { latest: null, points: [] };
const listeners = new Set<() => void>();

/**
 * One point from a `stats` event, its rates under the chart's short names. The
 * dashboard is served by the core it reads, so every field is there.
 */
export function toPoint(s: Stats): StatsPoint {
  return { ...s, processed: s.processed_per_sec, ignored: s.ignored_per_sec, received: s.received_per_sec };
}

/** Keeps points in time order, one per `t`, the last {@link STATS_WINDOW}. */
export function mergePoints(points: StatsPoint[], more: StatsPoint[]): StatsPoint[] {
  const byT = new Map<number, StatsPoint>();
  for (const p of points) byT.set(p.t, p);
  for (const p of more) byT.set(p.t, p);
  return [...byT.values()].sort((a, b) => a.t - b.t).slice(-STATS_WINDOW);
}

function publish(points: StatsPoint[]) {
  snapshot = { latest: points[points.length - 1] ?? null, points };
  listeners.forEach((l) => l());
}

export function pushStats(s: Stats): void {
  const point = toPoint(s);
  const last = snapshot.points[snapshot.points.length - 1];
  // The common case (the next second) without a sort.
  if (!last || point.t > last.t) publish([...snapshot.points, point].slice(-STATS_WINDOW));
  else publish(mergePoints(snapshot.points, [point]));
}

/** The server's last two minutes, sent when the stream opens. */
export function setStatsHistory(points: Stats[]): void {
  publish(mergePoints(snapshot.points, points.map(toPoint)));
}

export function resetStats(): void {
  publish([]);
}

function subscribe(cb: () => void) {
  listeners.add(cb);
  return () => listeners.delete(cb);
}

/** The last {@link STATS_WINDOW} seconds of `stats` points. */
export function useStats(): Snapshot {
  return useSyncExternalStore(subscribe, () => snapshot);
}

/** "1.2", "12", "1,234": a rate as the dashboard prints it. */
export function formatRate(v: number | undefined | null): string {
  if (v === undefined || v === null || !Number.isFinite(v)) return '—';
  if (v >= 100) return Math.round(v).toLocaleString('en-US');
  return v.toFixed(v >= 10 ? 0 : 1);
}

/** "30 s average" (or "12 s average" while the controller has run for less). */
export function windowLabel(p: Pick<Stats, 'window_sec'> | null | undefined): string {
  const w = p?.window_sec ?? DEFAULT_RATE_WINDOW_SEC;
  return `${Math.max(1, Math.round(w))} s average`;
}
