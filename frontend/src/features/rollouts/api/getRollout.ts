import { keepPreviousData, queryOptions, useQuery } from '@tanstack/react-query';
import { api, data } from '@lib/api/client';
import { queryKeys } from '@lib/api/queryKeys';
import type { RolloutDetail } from '@lib/api/types';

export interface TargetFilters {
  outcome?: string;
  page: number;
  page_size: number;
}

/** While it runs, the rollout and its targets are asked for this often. */
export const DETAIL_POLL_MS = 1000;

/** `GET /api/v1/controller/rollouts/{id}`: the rollout and one page of its targets (filtered by `outcome`). */
export const rolloutQuery = (id: string, f: TargetFilters) =>
  queryOptions({
    queryKey: queryKeys.rollout(id, f),
    queryFn: ({ signal }): Promise<RolloutDetail> =>
      data(api.GET('/api/v1/controller/rollouts/{id}', { params: { path: { id }, query: { ...f } }, signal })).then((e) => e.data),
    placeholderData: keepPreviousData,
    refetchInterval: (q) => (q.state.data?.rollout.state === 'running' ? DETAIL_POLL_MS : false),
    meta: { what: `Loading rollout ${id}` },
  });

export const useRollout = (id: string, f: TargetFilters) => useQuery(rolloutQuery(id, f));
