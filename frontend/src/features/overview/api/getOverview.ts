import { queryOptions, useQuery } from '@tanstack/react-query';
import { apiFetch, type Envelope } from '@lib/api/apiFetch';
import { queryKeys } from '@lib/api/queryKeys';
import type { Overview } from '@lib/api/types';

/** `GET /api/v1/controller/overview`: measured fleet figures, and the edges up. */
export const overviewQuery = () =>
  queryOptions({
    queryKey: queryKeys.overview,
    queryFn: ({ signal }) =>
      apiFetch<Envelope<Overview>>('/api/v1/controller/overview', { signal }).then((e) => e.data),
    meta: { what: 'Loading the overview' },
    // Edge figures (connections, rates) are announced every few seconds.
    refetchInterval: 5000,
  });

export const useOverview = () => useQuery(overviewQuery());
