import { queryOptions, useQuery } from '@tanstack/react-query';
import { api, data } from '@lib/api/client';
import { queryKeys } from '@lib/api/queryKeys';
import { edgeUrl, type PageOrigin } from '../connect';

/**
 * The WebSocket URLs of the edges heard in the last 15 s (`GET
 * /api/v1/controller/edges`), by edge id, for the command line an admin pastes.
 */
export const edgeUrlsQuery = (page: PageOrigin) =>
  queryOptions({
    queryKey: queryKeys.edgeUrls,
    queryFn: ({ signal }) =>
      data(api.GET('/api/v1/controller/edges', { signal })).then((e) =>
        [...e.data.edges].sort((a, b) => a.edge_id.localeCompare(b.edge_id)).map((edge) => edgeUrl(edge.address, page)),
      ),
    meta: { what: 'Loading the edges' },
  });

export const useEdgeUrls = () => useQuery(edgeUrlsQuery(window.location));
