import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api, data } from '../api/client';
import { queryKeys } from '../api/queryKeys';
import type { MessageStatus } from '../api/types';

/** `PUT /api/v1/internal/messages/{id}/status` — Accept / Dismiss. */
export function setMessageStatus(id: string, status: MessageStatus) {
  return data(api.PUT('/api/v1/internal/messages/{id}/status', { params: { path: { id } }, body: { status } }));
}

export function useSetMessageStatus() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: ({ id, status }: { id: string; status: MessageStatus }) => setMessageStatus(id, status),
    meta: { what: 'Updating the message' },
    onSuccess: () => Promise.all([
      qc.invalidateQueries({ queryKey: queryKeys.messages }),
      qc.invalidateQueries({ queryKey: queryKeys.overview }),
    ]),
  });
}
