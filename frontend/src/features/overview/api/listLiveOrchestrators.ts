import { queryOptions, useQuery } from '@tanstack/react-query';
import { api, data } from '@lib/api/client';
import { queryKeys } from '@lib/api/queryKeys';

/** `GET /api/v1/controller/orchestrators/live`: connected now, independent ones included. */
export const liveOrchestratorsQuery = () =>
  queryOptions({
    queryKey: queryKeys.liveOrchestrators,
    queryFn: ({ signal }) =>
      data(api.GET('/api/v1/controller/orchestrators/live', { signal })).then((e) => ({
        total: e.data.total_count,
        items: Object.values(e.data.orchestrators).sort((a, b) => a.orchestrator_id.localeCompare(b.orchestrator_id)),
      })),
    meta: { what: 'Loading live orchestrators' },
  });

export const useLiveOrchestrators = () => useQuery(liveOrchestratorsQuery());
