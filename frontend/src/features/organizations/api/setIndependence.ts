import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api, data } from '@lib/api/client';
import { queryKeys } from '@lib/api/queryKeys';


/** `PUT /api/v1/internal/orchestrators/{id}/independence` (privacy_mode left as stored). */
export function setIndependence(orchestratorId: string, isIndependent: boolean) {
  return data(
    api.PUT('/api/v1/internal/orchestrators/{id}/independence', {
      params: { path: { id: orchestratorId } },
      body: { is_independent: isIndependent },
    }),
  );
}

export function useSetIndependence() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: ({ orchestratorId, isIndependent }: { orchestratorId: string; isIndependent: boolean }) =>
      setIndependence(orchestratorId, isIndependent),
    meta: { what: 'Changing independence mode' },
    onSuccess: () =>
      Promise.all(
        [
          queryKeys.organizations,
          queryKeys.orchestrators,
          ['organization'],
          ['orchestrator'],
          queryKeys.overview,
          // An independent orchestrator's messages are held, not listed.
          queryKeys.messages,
        ].map((queryKey) => qc.invalidateQueries({ queryKey })),
      ),
  });
}
