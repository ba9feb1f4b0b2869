import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api, data } from '@lib/api/client';
import { queryKeys } from '@lib/api/queryKeys';
import type { JsonObject } from '@lib/api/types';


/** `PUT /api/v1/controller/organizations/{id}/features`: merged, pushed if connected. */
export function updateFeatures(id: string, features: JsonObject) {
  return data(api.PUT('/api/v1/controller/organizations/{id}/features', { params: { path: { id } }, body: { features } })).then((e) => e.data);
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
