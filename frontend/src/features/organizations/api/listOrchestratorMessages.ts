import { queryOptions, useQuery } from '@tanstack/react-query';
import { api, data } from '@lib/api/client';
import { queryKeys } from '@lib/api/queryKeys';

/**
 * `GET /api/v1/internal/orchestrators/{id}/messages`, newest first. While the
 * orchestrator is independent the list is empty and `held` says how many wait.
 */
export const orchestratorMessagesQuery = (orchestratorId: string) =>
  queryOptions({
    queryKey: queryKeys.orchestratorMessages(orchestratorId),
    queryFn: ({ signal }) =>
      data(
        api.GET('/api/v1/internal/orchestrators/{id}/messages', {
          signal,
          params: { path: { id: orchestratorId }, query: { limit: 200 } },
        }),
      ).then((m) => ({ messages: m.messages, held: m.held, independent: m.independent })),
    meta: { what: `Loading the messages of ${orchestratorId}` },
  });

export const useOrchestratorMessages = (orchestratorId: string, enabled = true) =>
  useQuery({ ...orchestratorMessagesQuery(orchestratorId), enabled });
