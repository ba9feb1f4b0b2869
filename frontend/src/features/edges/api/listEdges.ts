import { queryOptions, useQuery } from '@tanstack/react-query';
import { apiFetch, type Envelope } from '@lib/api/apiFetch';
import { queryKeys } from '@lib/api/queryKeys';
import type { Edge } from '@lib/api/types';

/** `GET /api/v1/controller/edges`: edges heard in the last 15 s. */
export const edgesQuery = () =>
  queryOptions({
    queryKey: queryKeys.edges,
    queryFn: ({ signal }) =>
      apiFetch<Envelope<{ edges: Edge[]; total_count: number }>>('/api/v1/controller/edges', { signal }).then((e) =>
        [...e.data.edges].sort((a, b) => a.edge_id.localeCompare(b.edge_id)),
      ),
    meta: { what: 'Loading edges' },
    // Edges announce their figures every few seconds; no event carries them.
    refetchInterval: 5000,
  });

export const useEdges = () => useQuery(edgesQuery());
