import { queryOptions, useQuery } from '@tanstack/react-query';
import { api, data } from '@lib/api/client';
import { queryKeys } from '@lib/api/queryKeys';
import type { MessageStatus, MessageType } from '@lib/api/types';

export interface MessageFilters {
  message_type?: MessageType;
  status?: MessageStatus;
  limit: number;
}

/**
 * `GET /api/v1/internal/messages`: every orchestrator's messages, newest first,
 * without those of independent orchestrators (`held` counts them).
 */
export const messagesQuery = (f: MessageFilters) =>
  queryOptions({
    queryKey: queryKeys.messageList(f),
    queryFn: ({ signal }) =>
      data(api.GET('/api/v1/internal/messages', { signal, params: { query: { ...f } } })).then((m) => ({
        messages: m.messages,
        held: m.held,
      })),
    meta: { what: 'Loading messages' },
    placeholderData: (previous) => previous,
  });

export const useMessages = (f: MessageFilters) => useQuery(messagesQuery(f));
