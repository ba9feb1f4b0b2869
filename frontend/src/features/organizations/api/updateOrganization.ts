import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api, data } from '@lib/api/client';
import { queryKeys } from '@lib/api/queryKeys';
import type { Organization } from '@lib/api/types';

export interface OrganizationChange {
  name?: string;
  location?: string;
}

/**
 * `PATCH /api/v1/controller/organizations/{id}`: what an administrator sets; the
 * orchestrator's handshakes no longer overwrite it (they are kept as `reported_*`).
 */
export function updateOrganization(id: string, change: OrganizationChange) {
  return data(api.PATCH('/api/v1/controller/organizations/{id}', { params: { path: { id } }, body: change })).then((e) => e.data);
}

export function useUpdateOrganization(id: string) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (change: OrganizationChange) => updateOrganization(id, change),
    // The form shows the error next to its fields.
    meta: { silent: true },
    onSuccess: (org) => {
      qc.setQueryData(queryKeys.organization(id), (old: Organization | undefined) => ({ ...old, ...org }));
      return Promise.all([
        qc.invalidateQueries({ queryKey: queryKeys.organizations }),
        qc.invalidateQueries({ queryKey: queryKeys.organization(id) }),
        qc.invalidateQueries({ queryKey: queryKeys.orchestrators }),
      ]);
    },
  });
}
