import { createContext, useContext, useEffect, useState } from 'react';
import type { ReactNode } from 'react';
import { useQueryClient, type QueryKey } from '@tanstack/react-query';
import { setStreamDown } from '../api/queryClient';
import { queryKeys } from '../api/queryKeys';
import type { ActivityEntry, Stats, StatsHistory } from '../api/types';
import { keysForActivity } from './invalidation';
import { pushStats, resetStats, setStatsHistory } from './statsStore';

export type LiveStatus = 'connecting' | 'live' | 'disconnected';

/** Invalidations are gathered this long, so a burst of events is one refetch. */
const BATCH_MS = 200;
/** Keepalive-only changes (`last_seen`) wait this long. */
const SLOW_MS = 10_000;

const LiveContext = createContext<LiveStatus>('connecting');

/**
 * Keeps `/api/v1/events` open while signed in: `activity` events invalidate the
 * queries they touch (a badge changes well within 2 s), `stats_history` (once, on
 * opening) and `stats` events feed the heartbeat chart. When the stream drops, it
 * says so and every visible query is polled (`setStreamDown`) until the stream is
 * back.
 */
export function LiveProvider({ token, children }: { token: string | null; children: ReactNode }) {
  const queryClient = useQueryClient();
  // The status belongs to one token: a new one starts again at 'connecting'.
  const [state, setState] = useState<{ token: string | null; status: LiveStatus }>({ token, status: 'connecting' });
  const status = state.token === token ? state.status : 'connecting';

  useEffect(() => {
    if (!token) return;
    let es: EventSource | null = null;
    let closed = false;
    let attempt = 0;
    let reconnectTimer: number | undefined;
    const setStatus = (s: LiveStatus) => setState({ token, status: s });
    let batchTimer: number | undefined;
    let slowTimer: number | undefined;
    const pending = new Map<string, QueryKey>();
    const pendingSlow = new Map<string, QueryKey>();
    let lastStats: Stats | null = null;

    const flush = (set: Map<string, QueryKey>) => {
      for (const key of set.values()) {
        // An in-flight refetch is kept, not restarted: a burst cannot starve it.
        void queryClient.invalidateQueries({ queryKey: key }, { cancelRefetch: false });
      }
      set.clear();
    };
    const invalidate = (keys: QueryKey[], slow = false) => {
      const set = slow ? pendingSlow : pending;
      for (const k of keys) set.set(JSON.stringify(k), k);
      if (!slow && batchTimer === undefined) {
        batchTimer = window.setTimeout(() => {
          batchTimer = undefined;
          flush(pending);
        }, BATCH_MS);
      }
      if (slow && slowTimer === undefined) {
        slowTimer = window.setTimeout(() => {
          slowTimer = undefined;
          flush(pendingSlow);
        }, SLOW_MS);
      }
    };

    const connect = () => {
      if (closed) return;
      es = new EventSource(`/api/v1/events?access_token=${encodeURIComponent(token)}`);
      es.onopen = () => {
        attempt = 0;
        setStatus('live');
        // Back after a gap: whatever happened meanwhile was not pushed, so
        // everything on screen is refetched (setStreamDown does it) and polling stops.
        setStreamDown(queryClient, false);
      };
      es.addEventListener('activity', (ev) => {
        let entry: ActivityEntry;
        try {
          entry = JSON.parse((ev as MessageEvent<string>).data) as ActivityEntry;
        } catch {
          return;
        }
        const { now, slow } = keysForActivity(entry);
        invalidate(now);
        if (slow.length) invalidate(slow, true);
      });
      es.addEventListener('stats_history', (ev) => {
        try {
          const h = JSON.parse((ev as MessageEvent<string>).data) as StatsHistory;
          if (Array.isArray(h.points)) setStatsHistory(h.points);
        } catch {
          // A malformed history only leaves the chart to fill up live.
        }
      });
      es.addEventListener('stats', (ev) => {
        let s: Stats;
        try {
          s = JSON.parse((ev as MessageEvent<string>).data) as Stats;
        } catch {
          return;
        }
        pushStats(s);
        if (lastStats && (lastStats.connected_now !== s.connected_now || lastStats.edges_up !== s.edges_up)) {
          invalidate([queryKeys.overview, queryKeys.edges, queryKeys.liveOrchestrators]);
        }
        lastStats = s;
      });
      es.onerror = () => {
        if (closed) return;
        setStatus('disconnected');
        setStreamDown(queryClient, true);
        // CONNECTING: the browser retries by itself. CLOSED (a non-200 answer,
        // e.g. 403 or 503): retry ourselves, backing off up to 10 s. A lost
        // session is noticed by the polling requests, which sign out.
        if (es && es.readyState === EventSource.CLOSED) {
          es.close();
          const delay = Math.min(1000 * 2 ** attempt, 10_000);
          attempt++;
          reconnectTimer = window.setTimeout(connect, delay);
        }
      };
    };

    resetStats();
    connect();
    return () => {
      closed = true;
      es?.close();
      setStreamDown(queryClient, false);
      window.clearTimeout(reconnectTimer);
      window.clearTimeout(batchTimer);
      window.clearTimeout(slowTimer);
    };
  }, [token, queryClient]);

  return <LiveContext.Provider value={status}>{children}</LiveContext.Provider>;
}

/** Whether the push channel is up. */
export function useLiveStatus(): LiveStatus {
  return useContext(LiveContext);
}
