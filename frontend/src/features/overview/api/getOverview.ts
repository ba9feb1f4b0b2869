import { queryOptions, useQuery } from '@tanstack/react-query';
import { api, data } from '@lib/api/client';
import { queryKeys } from '@lib/api/queryKeys';

/** `GET /api/v1/controller/overview`: measured fleet figures, and the edges up. */
export const overviewQuery = () =>
  queryOptions({
    queryKey: queryKeys.overview,
    queryFn: ({ signal }) =>
      data(api.GET('/api/v1/controller/overview', { signal })).then((e) => e.data),
    meta: { what: 'Loading the overview' },
    // Edge figures (connections, rates) are announced every few seconds.
    refetchInterval: 5000,
  });

export const useOverview = () => useQuery(overviewQuery());
