import { queryOptions, useQuery } from '@tanstack/react-query';
import { api, data } from '@lib/api/client';
import { queryKeys } from '@lib/api/queryKeys';

/** `GET /api/v1/controller/cores`: core replicas heard in the last 3 s. */
export const coresQuery = () =>
  queryOptions({
    queryKey: queryKeys.cores,
    queryFn: ({ signal }) => data(api.GET('/api/v1/controller/cores', { signal })).then((e) => e.data),
    meta: { what: 'Loading core replicas' },
    // Replicas announce themselves every second; no event carries them.
    refetchInterval: 3000,
  });

export const useCores = () => useQuery(coresQuery());
