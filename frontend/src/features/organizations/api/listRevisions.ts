import { queryOptions, useQuery } from '@tanstack/react-query';
import { apiFetch, type Envelope } from '@lib/api/apiFetch';
import { queryKeys } from '@lib/api/queryKeys';
import type { RevisionList } from '@lib/api/types';

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
      apiFetch<Envelope<RevisionList>>(`/api/v1/controller/orchestrators/${encodeURIComponent(id)}/config/revisions`, {
        query: { limit: REVISIONS_SHOWN },
        signal,
      }).then((e) => e.data.revisions),
    refetchInterval: poll,
    meta: { what: `Loading the configuration revisions of ${id}` },
  });

export const useConfigRevisions = (id: string, poll: number | false) => useQuery(configRevisionsQuery(id, poll));
