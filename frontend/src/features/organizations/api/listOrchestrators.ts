import { queryOptions, useQueries, useQuery } from '@tanstack/react-query';
import { api, data, fetchAllPages, MAX_PAGE_SIZE } from '@lib/api/client';
import { queryKeys } from '@lib/api/queryKeys';

/**
 * The instances of one organization, sorted by id: `GET
 * /api/v1/controller/orchestrators?organization_id=…` (in pages of 500).
 */
export const orchestratorsOfQuery = (organizationId: string) =>
  queryOptions({
    queryKey: queryKeys.orchestratorsOf(organizationId),
    queryFn: async ({ signal }) =>
      (
        await fetchAllPages(
          (page) =>
            data(
              api.GET('/api/v1/controller/orchestrators', {
                params: { query: { organization_id: organizationId, page, page_size: MAX_PAGE_SIZE } },
                signal,
              }),
            ).then((e) => e.data),
          (o) => o.orchestrator_id,
        )
      ).sort((a, b) => a.orchestrator_id.localeCompare(b.orchestrator_id)),
    meta: { what: `Loading the instances of ${organizationId}` },
  });

export const useOrchestratorsOf = (organizationId: string) => useQuery(orchestratorsOfQuery(organizationId));

/** The instances of each of `organizationIds` (one request each, as the cards of one page need). */
export const useOrchestratorsOfEach = (organizationIds: string[]) =>
  useQueries({ queries: organizationIds.map(orchestratorsOfQuery) });
