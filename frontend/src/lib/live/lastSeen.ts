import { keepPreviousData, queryOptions, useQuery } from '@tanstack/react-query';
import { useEffect, useSyncExternalStore } from 'react';
import { api, data } from '../api/client';
import { queryKeys } from '../api/queryKeys';
import type { LastSeen } from '../api/types';

/**
 * "Last seen" of the orchestrators on screen, polled from the controller's memory.
 *
 * Heartbeats change only `last_seen`, and the event stream tells of one at most
 * once a minute per orchestrator (a big fleet would flood it otherwise), so lists
 * refetched on events lag by up to a minute. Instead every component that shows a
 * "last seen" registers its ids here and one request for all of them,
 * `GET /api/v1/controller/last-seen?ids=…`, runs every {@link LAST_SEEN_POLL_MS}:
 * its cost grows with what is on screen, not with the fleet.
 */
export const LAST_SEEN_POLL_MS = 2000;
/** The API takes this many ids per call. */
const CHUNK = 200;

const counts = new Map<string, number>();
let key = '';
const listeners = new Set<() => void>();

function recompute() {
  const next = [...counts.keys()].sort().join(',');
  if (next === key) return;
  key = next;
  listeners.forEach((l) => l());
}

/** Watches `ids` until the returned function is called. */
export function watchIds(ids: string[]): () => void {
  for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  recompute();
  return () => {
    for (const id of ids) {
      const n = (counts.get(id) ?? 1) - 1;
      if (n <= 0) counts.delete(id);
      else counts.set(id, n);
    }
    recompute();
  };
}

function subscribe(cb: () => void) {
  listeners.add(cb);
  return () => listeners.delete(cb);
}

/** The ids watched now, sorted and comma-joined. */
export function watchedKey(): string {
  return key;
}

async function fetchLastSeen(ids: string, signal: AbortSignal): Promise<Record<string, LastSeen>> {
  const all = ids.split(',');
  const chunks: string[][] = [];
  for (let i = 0; i < all.length; i += CHUNK) chunks.push(all.slice(i, i + CHUNK));
  const answers = await Promise.all(
    chunks.map((c) =>
      data(api.GET('/api/v1/controller/last-seen', { params: { query: { ids: c.join(',') } }, signal })),
    ),
  );
  return Object.assign({}, ...answers.map((a) => a.data)) as Record<string, LastSeen>;
}

/** `GET /api/v1/controller/last-seen?ids=…` for the ids in `idsKey`. */
export const lastSeenQuery = (idsKey: string) =>
  queryOptions({
    queryKey: queryKeys.lastSeen(idsKey),
    queryFn: ({ signal }) => fetchLastSeen(idsKey, signal),
    enabled: idsKey !== '',
    refetchInterval: LAST_SEEN_POLL_MS,
    staleTime: 0,
    // While the set of ids changes (a page of cards mounts), keep showing the last answer.
    placeholderData: keepPreviousData,
    retry: false,
    // The lists the figures come from show their own errors; a toast every 2 s would not help.
    meta: { what: 'Loading last-seen times', silent: true },
  });

/**
 * The controller's live view of `ids` (connected, last processed heartbeat),
 * refreshed every {@link LAST_SEEN_POLL_MS} while the component is mounted.
 */
export function useLastSeen(ids: string[]): Record<string, LastSeen | undefined> {
  const joined = ids.join(',');
  useEffect(() => (joined ? watchIds(joined.split(',')) : undefined), [joined]);
  const idsKey = useSyncExternalStore(subscribe, watchedKey);
  const q = useQuery(lastSeenQuery(idsKey));
  return q.data ?? {};
}
