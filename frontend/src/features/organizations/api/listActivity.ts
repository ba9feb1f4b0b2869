import { queryOptions, useQuery } from '@tanstack/react-query';
import { api, data } from '@lib/api/client';
import { queryKeys } from '@lib/api/queryKeys';
import type { ActivityEntry } from '@lib/api/types';

/** The most the feed holds (and the API accepts). */
export const ACTIVITY_LIMIT = 1000;

/**
 * `GET /api/v1/internal/activity`, newest first. The API filters by type only, so
 * the detail page picks its orchestrator's entries out of the last 1,000.
 */
export const activityQuery = (limit = ACTIVITY_LIMIT) =>
  queryOptions({
    queryKey: queryKeys.activityList(limit),
    queryFn: ({ signal }) =>
      data(api.GET('/api/v1/internal/activity', { signal, params: { query: { limit } } })).then((a) => a.data.items),
    meta: { what: 'Loading recent activity' },
  });

export const useActivity = (limit?: number) => useQuery(activityQuery(limit));

/** The entries about these orchestrators or this organization. */
export function activityOf(items: ActivityEntry[], orchestratorIds: string[], organizationId: string): ActivityEntry[] {
  const ids = new Set(orchestratorIds);
  return items.filter(
    (a) =>
      (a.data.orchestrator_id !== undefined && ids.has(String(a.data.orchestrator_id))) ||
      a.data.organization_id === organizationId,
  );
}
