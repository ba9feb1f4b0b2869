import { queryOptions, useQuery } from '@tanstack/react-query';
import { apiFetch } from '@lib/api/apiFetch';
import type { MessageList } from '@lib/api/types';
import { queryKeys } from '@lib/api/queryKeys';

/** `GET /api/v1/internal/orchestrators/{id}/messages`, newest first. */
export const orchestratorMessagesQuery = (orchestratorId: string) =>
  queryOptions({
    queryKey: queryKeys.orchestratorMessages(orchestratorId),
    queryFn: ({ signal }) =>
      apiFetch<MessageList>(`/api/v1/internal/orchestrators/${encodeURIComponent(orchestratorId)}/messages`, {
        signal,
        query: { limit: 200 },
      }).then((m) => m.messages),
    meta: { what: `Loading the messages of ${orchestratorId}` },
  });

export const useOrchestratorMessages = (orchestratorId: string, enabled = true) =>
  useQuery({ ...orchestratorMessagesQuery(orchestratorId), enabled });
