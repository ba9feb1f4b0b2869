import { queryOptions, useQueries, useQuery } from '@tanstack/react-query';
import { fetchAllPages } from '@lib/api/apiFetch';
import { queryKeys } from '@lib/api/queryKeys';
import type { Orchestrator } from '@lib/api/types';

/**
 * The instances of one organization, sorted by id: `GET
 * /api/v1/controller/orchestrators?organization_id=…` (in pages of 500).
 */
export const orchestratorsOfQuery = (organizationId: string) =>
  queryOptions({
    queryKey: queryKeys.orchestratorsOf(organizationId),
    queryFn: async ({ signal }) =>
      (
        await fetchAllPages<Orchestrator>('/api/v1/controller/orchestrators', (o) => o.orchestrator_id, signal, {
          organization_id: organizationId,
        })
      ).sort((a, b) => a.orchestrator_id.localeCompare(b.orchestrator_id)),
    meta: { what: `Loading the instances of ${organizationId}` },
  });

export const useOrchestratorsOf = (organizationId: string) => useQuery(orchestratorsOfQuery(organizationId));

/** The instances of each of `organizationIds` (one request each, as the cards of one page need). */
export const useOrchestratorsOfEach = (organizationIds: string[]) =>
  useQueries({ queries: organizationIds.map(orchestratorsOfQuery) });
