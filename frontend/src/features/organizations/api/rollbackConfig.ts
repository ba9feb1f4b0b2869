import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api, data } from '@lib/api/client';
import { queryKeys } from '@lib/api/queryKeys';
import type { RollbackBody } from '@lib/api/types';

/**
 * `POST /api/v1/controller/orchestrators/{id}/config/rollback`: a new revision
 * with an earlier one's content, pushed if connected.
 */
export function rollbackConfig(id: string, revision: number) {
  const body: RollbackBody = { revision };
  return data(api.POST('/api/v1/controller/orchestrators/{id}/config/rollback', { params: { path: { id } }, body })).then((e) => e.data);
}

export function useRollbackConfig(id: string) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (revision: number) => rollbackConfig(id, revision),
    // The confirmation dialog says why it failed.
    meta: { silent: true },
    onSuccess: () =>
      Promise.all([
        qc.invalidateQueries({ queryKey: queryKeys.organization(id) }),
        qc.invalidateQueries({ queryKey: queryKeys.organizations }),
        qc.invalidateQueries({ queryKey: queryKeys.fleetConfig }),
      ]),
  });
}
