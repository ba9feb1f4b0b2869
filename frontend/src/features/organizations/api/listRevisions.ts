import { queryOptions, useQuery } from '@tanstack/react-query';
import { api, data } from '@lib/api/client';
import { queryKeys } from '@lib/api/queryKeys';

/** How many revisions the history shows. */
export const REVISIONS_SHOWN = 20;

/**
 * `GET /api/v1/controller/orchestrators/{id}/config/revisions`, newest first.
 * `poll` (ms) while the configuration is not in sync: each revision's outcome changes then.
 */
export const configRevisionsQuery = (id: string, poll: number | false) =>
  queryOptions({
    queryKey: queryKeys.configRevisions(id),
    queryFn: ({ signal }) =>
      data(
        api.GET('/api/v1/controller/orchestrators/{id}/config/revisions', {
          params: { path: { id }, query: { limit: REVISIONS_SHOWN } },
          signal,
        }),
      ).then((e) => e.data.revisions),
    refetchInterval: poll,
    meta: { what: `Loading the configuration revisions of ${id}` },
  });

export const useConfigRevisions = (id: string, poll: number | false) => useQuery(configRevisionsQuery(id, poll));
