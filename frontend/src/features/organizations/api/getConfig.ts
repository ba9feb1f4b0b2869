import { queryOptions, useQuery } from '@tanstack/react-query';
import { api, data } from '@lib/api/client';
import { queryKeys } from '@lib/api/queryKeys';

/** While the configuration is not in sync, it is asked for this often. */
export const CONFIG_POLL_MS = 2000;

/**
 * `GET /api/v1/controller/orchestrators/{id}/config`: desired against reported.
 * Polled while not in sync (config_status reports are not on the event stream).
 */
export const orchestratorConfigQuery = (id: string) =>
  queryOptions({
    queryKey: queryKeys.orchestratorConfig(id),
    queryFn: ({ signal }) =>
      data(api.GET('/api/v1/controller/orchestrators/{id}/config', { params: { path: { id } }, signal })).then((e) => e.data),
    refetchInterval: (q) => (q.state.data && !q.state.data.in_sync ? CONFIG_POLL_MS : false),
    meta: { what: `Loading the configuration of ${id}` },
  });

export const useOrchestratorConfig = (id: string) => useQuery(orchestratorConfigQuery(id));
