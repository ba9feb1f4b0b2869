import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api, data } from '@lib/api/client';
import { queryKeys } from '@lib/api/queryKeys';
import type { RolloutBody } from '@lib/api/types';

/** `POST /api/v1/controller/rollouts`: 201 with the rollout and its first targets; 422 names the bad fields. */
export function createRollout(body: RolloutBody) {
  return data(api.POST('/api/v1/controller/rollouts', { body })).then((e) => e.data);
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
