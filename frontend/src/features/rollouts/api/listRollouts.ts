import { queryOptions, useQuery } from '@tanstack/react-query';
import { api, data } from '@lib/api/client';
import { queryKeys } from '@lib/api/queryKeys';

/** While a rollout runs, its progress is asked for this often. */
export const LIVE_POLL_MS = 1500;

/** `GET /api/v1/controller/rollouts`, newest first; polled while one of them runs. */
export const rolloutsQuery = () =>
  queryOptions({
    queryKey: queryKeys.rollouts,
    queryFn: ({ signal }) =>
      data(api.GET('/api/v1/controller/rollouts', { signal })).then((e) => e.data.rollouts),
    refetchInterval: (q) => (q.state.data?.some((r) => r.state === 'running') ? LIVE_POLL_MS : false),
    meta: { what: 'Loading rollouts' },
  });

export const useRollouts = () => useQuery(rolloutsQuery());
