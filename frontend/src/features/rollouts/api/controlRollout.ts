import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api, data } from '@lib/api/client';
import { queryKeys } from '@lib/api/queryKeys';
import type { RolloutAction } from '../model';

/** `POST /api/v1/controller/rollouts/{id}/pause|resume|abort`; 409 when its state does not allow it. */
export function controlRollout(id: string, action: RolloutAction) {
  return data(api.POST('/api/v1/controller/rollouts/{id}/{action}', { params: { path: { id, action } } })).then((e) => e.data);
}

export function useControlRollout(id: string) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (action: RolloutAction) => controlRollout(id, action),
    meta: { what: `Changing rollout ${id}` },
    onSuccess: () => qc.invalidateQueries({ queryKey: queryKeys.rollouts }),
  });
}
