import { useMutation, useQueryClient } from '@tanstack/react-query';
import { apiFetch, type Envelope } from '@lib/api/apiFetch';
import { queryKeys } from '@lib/api/queryKeys';
import type { JsonObject } from '@lib/api/types';

export interface FeaturesAnswer {
  organization_id: string;
  features: JsonObject;
  /** Whether `provision_config` went to the connected orchestrator. */
  pushed: boolean;
}

/** `PUT /api/v1/controller/organizations/{id}/features`: merged, pushed if connected. */
export function updateFeatures(id: string, features: JsonObject) {
  return apiFetch<Envelope<FeaturesAnswer>>(`/api/v1/controller/organizations/${encodeURIComponent(id)}/features`, {
    method: 'PUT',
    body: { features },
  }).then((e) => e.data);
}

export function useUpdateFeatures(id: string) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (features: JsonObject) => updateFeatures(id, features),
    meta: { what: `Updating the features of ${id}` },
    onSuccess: () =>
      Promise.all([
        qc.invalidateQueries({ queryKey: queryKeys.organizations }),
        qc.invalidateQueries({ queryKey: queryKeys.organization(id) }),
      ]),
  });
}
