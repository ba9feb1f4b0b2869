import { useMutation, useQueryClient } from '@tanstack/react-query';
import { apiFetch, type Envelope } from '@lib/api/apiFetch';
import { queryKeys } from '@lib/api/queryKeys';
import type { RolloutState } from '@lib/api/types';
import type { RolloutAction } from '../model';

/** `POST /api/v1/controller/rollouts/{id}/pause|resume|abort`; 409 when its state does not allow it. */
export function controlRollout(id: string, action: RolloutAction) {
  return apiFetch<Envelope<RolloutState>>(`/api/v1/controller/rollouts/${encodeURIComponent(id)}/${action}`, {
    method: 'POST',
  }).then((e) => e.data);
}

export function useControlRollout(id: string) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (action: RolloutAction) => controlRollout(id, action),
    meta: { what: `Changing rollout ${id}` },
    onSuccess: () => qc.invalidateQueries({ queryKey: queryKeys.rollouts }),
  });
}
