import { keepPreviousData, queryOptions, useQuery } from '@tanstack/react-query';
import { apiFetch, type Envelope } from '@lib/api/apiFetch';
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
      apiFetch<Envelope<RolloutDetail>>(`/api/v1/controller/rollouts/${encodeURIComponent(id)}`, {
        query: { ...f },
        signal,
      }).then((e) => e.data),
    placeholderData: keepPreviousData,
    refetchInterval: (q) => (q.state.data?.rollout.state === 'running' ? DETAIL_POLL_MS : false),
    meta: { what: `Loading rollout ${id}` },
  });

export const useRollout = (id: string, f: TargetFilters) => useQuery(rolloutQuery(id, f));
