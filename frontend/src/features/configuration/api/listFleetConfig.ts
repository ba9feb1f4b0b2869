import { keepPreviousData, queryOptions, useQuery } from '@tanstack/react-query';
import { api, data } from '@lib/api/client';
import { queryKeys } from '@lib/api/queryKeys';
import type { FleetConfig } from '@lib/api/types';
import type { ConfigState } from '@lib/config/state';

/** The fleet's states change as orchestrators report (not on the event stream): polled while on screen. */
export const FLEET_POLL_MS = 3000;

export interface FleetFilters {
  state?: ConfigState;
  page: number;
  page_size: number;
}

/**
 * `GET /api/v1/controller/config`: how many orchestrators are in each state, and
 * one page of them (filtered by `state`), ordered by id.
 */
export const fleetConfigQuery = (f: FleetFilters) =>
  queryOptions({
    queryKey: queryKeys.fleetConfigPage(f),
    queryFn: ({ signal }): Promise<FleetConfig> =>
      data(api.GET('/api/v1/controller/config', { params: { query: { ...f } }, signal })).then((e) => e.data),
    placeholderData: keepPreviousData,
    refetchInterval: FLEET_POLL_MS,
    meta: { what: 'Loading the configuration of the fleet' },
  });

export const useFleetConfig = (f: FleetFilters) => useQuery(fleetConfigQuery(f));
