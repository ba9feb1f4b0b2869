import { queryOptions, useQuery } from '@tanstack/react-query';
import { fetchAllPages } from '@lib/api/apiFetch';
import { queryKeys } from '@lib/api/queryKeys';
import type { Orchestrator } from '@lib/api/types';

/**
 * Every orchestrator instance via `GET /api/v1/controller/orchestrators` in pages
 * of 500 (the API cannot list the instances of one organization).
 */
export const allOrchestratorsQuery = () =>
  queryOptions({
    queryKey: queryKeys.orchestratorsAll,
    queryFn: ({ signal }) =>
      fetchAllPages<Orchestrator>('/api/v1/controller/orchestrators', (o) => o.orchestrator_id, signal),
    meta: { what: 'Loading orchestrator instances' },
  });

export const useAllOrchestrators = () => useQuery(allOrchestratorsQuery());

/** Instances by organization id, each list sorted by orchestrator id. */
export function groupByOrganization(instances: Orchestrator[]): Map<string, Orchestrator[]> {
  const map = new Map<string, Orchestrator[]>();
  for (const i of instances) {
    const key = i.organization_id ?? i.orchestrator_id;
    const list = map.get(key);
    if (list) list.push(i);
    else map.set(key, [i]);
  }
  for (const list of map.values()) list.sort((a, b) => a.orchestrator_id.localeCompare(b.orchestrator_id));
  return map;
}
