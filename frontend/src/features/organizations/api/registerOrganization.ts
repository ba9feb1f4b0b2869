import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api, data } from '@lib/api/client';
import { queryKeys } from '@lib/api/queryKeys';

export interface NewOrganization {
  organization_id: string;
  name?: string;
  location?: string;
}


/**
 * `POST /api/v1/internal/orchestrators/register`, as the first version's "Add New
 * Organization" dialog did: organization and instance with the same id, inactive
 * until its orchestrator connects.
 */
export function registerOrganization(org: NewOrganization) {
  return data(
    api.POST('/api/v1/internal/orchestrators/register', {
      body: {
        organization_id: org.organization_id,
        orchestrator_id: org.organization_id,
        name: org.name || undefined,
        location: org.location || undefined,
      },
    }),
  );
}

export function useRegisterOrganization() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: registerOrganization,
    // The dialog shows the error next to the form.
    meta: { silent: true },
    onSuccess: () =>
      Promise.all(
        [queryKeys.organizations, queryKeys.orchestrators, queryKeys.overview].map((queryKey) =>
          qc.invalidateQueries({ queryKey }),
        ),
      ),
  });
}
