import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api, data } from '@lib/api/client';
import { queryKeys } from '@lib/api/queryKeys';

/**
 * `DELETE /api/v1/internal/orchestrators/{id}/deregister`: deletes the instance and
 * its messages, closes its socket, and deletes the organization once it has no
 * other instance.
 */
export function deregisterOrchestrator(orchestratorId: string) {
  return data(api.DELETE('/api/v1/internal/orchestrators/{id}/deregister', { params: { path: { id: orchestratorId } } }));
}

/** Deletes an organization by deregistering each of its instances in turn. */
export function useDeleteOrganization() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async ({ instanceIds }: { organizationId: string; instanceIds: string[] }) => {
      for (const id of instanceIds) await deregisterOrchestrator(id);
    },
    meta: { silent: true },
    onSuccess: (_d, { organizationId }) => {
      qc.removeQueries({ queryKey: queryKeys.organization(organizationId) });
      return Promise.all(
        [queryKeys.organizations, queryKeys.orchestrators, queryKeys.overview, queryKeys.messages].map((queryKey) =>
          qc.invalidateQueries({ queryKey }),
        ),
      );
    },
  });
}
