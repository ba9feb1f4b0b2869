import { queryOptions, useQuery } from '@tanstack/react-query';
import { api, data } from '@lib/api/client';
import { queryKeys } from '@lib/api/queryKeys';

export interface LogFilters {
  q?: string;
  level?: string;
  source?: string;
  limit: number;
}

/** `GET /api/v1/internal/logs`: the whole cluster's recent log, newest first. */
export const logsQuery = (f: LogFilters, tail: boolean) =>
  queryOptions({
    queryKey: queryKeys.logList(f),
    queryFn: ({ signal }) =>
      data(api.GET('/api/v1/internal/logs', { signal, params: { query: { ...f } } })).then((r) => r.data.items),
    meta: { what: 'Loading logs' },
    placeholderData: (previous) => previous,
    // Live tail: logs are not pushed, so poll while it is on (off, the default
    // interval applies: polling only while the event stream is down).
    ...(tail ? { refetchInterval: 2000 } : {}),
    staleTime: tail ? 0 : 30_000,
  });

export const useLogs = (f: LogFilters, tail: boolean) => useQuery(logsQuery(f, tail));
