import { queryOptions, useQuery } from '@tanstack/react-query';
import { api, data } from '@lib/api/client';
import { queryKeys } from '@lib/api/queryKeys';

/** `GET /api/v1/controller/edges`: edges heard in the last 15 s. */
export const edgesQuery = () =>
  queryOptions({
    queryKey: queryKeys.edges,
    queryFn: ({ signal }) =>
      data(api.GET('/api/v1/controller/edges', { signal })).then((e) =>
        [...e.data.edges].sort((a, b) => a.edge_id.localeCompare(b.edge_id)),
      ),
    meta: { what: 'Loading edges' },
    // Edges announce their figures every few seconds; no event carries them.
    refetchInterval: 5000,
  });

export const useEdges = () => useQuery(edgesQuery());
