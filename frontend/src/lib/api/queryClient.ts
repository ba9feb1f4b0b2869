import { MutationCache, QueryCache, QueryClient } from '@tanstack/react-query';
import { toast } from '../ui/toasts';
import { ApiError, describeError } from './errors';

/** What each query or mutation is, for the error toast ("Loading organizations failed: …"). */
export interface AppMeta extends Record<string, unknown> {
  what?: string;
  /** The component shows the error itself. */
  silent?: boolean;
}

declare module '@tanstack/react-query' {
  interface Register {
    queryMeta: AppMeta;
    mutationMeta: AppMeta;
  }
}

function report(err: unknown, meta: AppMeta | undefined, fallback: string) {
  if (meta?.silent) return;
  // A lost session goes back to the login page, which says why.
  if (err instanceof ApiError && err.isSessionLost) return;
  toast('error', `${meta?.what ?? fallback} failed: ${describeError(err)}`);
}

/** While the event stream is down, every query on screen is refetched this often. */
export const POLL_MS = 5000;
let streamDown = false;

/**
 * Says whether the event stream is down. Every query without its own
 * `refetchInterval` then polls every {@link POLL_MS}: the default below is read
 * again at each update of a query, so the queries on screen are refetched once
 * (which also picks the new interval up) whenever this changes.
 */
export function setStreamDown(client: QueryClient, down: boolean): void {
  if (down === streamDown) return;
  streamDown = down;
  void client.invalidateQueries(undefined, { cancelRefetch: false });
}

export function createQueryClient(): QueryClient {
  return new QueryClient({
    queryCache: new QueryCache({
      onError: (err, query) => report(err, query.meta, 'Loading data'),
    }),
    mutationCache: new MutationCache({
      onError: (err, _vars, _ctx, mutation) => report(err, mutation.meta, 'The action'),
    }),
    defaultOptions: {
      queries: {
        // Freshness comes from the event stream, not from timers.
        staleTime: 30_000,
        refetchOnWindowFocus: false,
        refetchInterval: () => (streamDown ? POLL_MS : false),
        retry: (count, err) =>
          count < 1 && !(err instanceof ApiError && (err.isSessionLost || (err.status >= 400 && err.status < 500))),
      },
      mutations: { retry: false },
    },
  });
}
