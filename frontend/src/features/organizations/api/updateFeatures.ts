import { useMutation, useQueryClient } from '@tanstack/react-query';
import { apiFetch, type Envelope } from '@lib/api/apiFetch';
import { queryKeys } from '@lib/api/queryKeys';
import type { FeaturesMerged, JsonObject } from '@lib/api/types';


/** `PUT /api/v1/controller/organizations/{id}/features`: merged, pushed if connected. */
export function updateFeatures(id: string, features: JsonObject) {
  return apiFetch<Envelope<FeaturesMerged>>(`/api/v1/controller/organizations/${encodeURIComponent(id)}/features`, {
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
