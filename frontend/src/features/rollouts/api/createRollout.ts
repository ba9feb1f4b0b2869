import { useMutation, useQueryClient } from '@tanstack/react-query';
import { apiFetch, type Envelope } from '@lib/api/apiFetch';
import { queryKeys } from '@lib/api/queryKeys';
import type { RolloutBody, RolloutDetail } from '@lib/api/types';

/** `POST /api/v1/controller/rollouts`: 201 with the rollout and its first targets; 422 names the bad fields. */
export function createRollout(body: RolloutBody) {
  return apiFetch<Envelope<RolloutDetail>>('/api/v1/controller/rollouts', { method: 'POST', body }).then((e) => e.data);
}

export function useCreateRollout() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: createRollout,
    // The form says why it failed.
    meta: { silent: true },
    onSuccess: () => Promise.all([qc.invalidateQueries({ queryKey: queryKeys.rollouts }), qc.invalidateQueries({ queryKey: queryKeys.fleetConfig })]),
  });
}
