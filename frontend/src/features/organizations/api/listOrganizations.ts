import { keepPreviousData, queryOptions, useQuery } from '@tanstack/react-query';
import { api, data } from '@lib/api/client';
import { queryKeys } from '@lib/api/queryKeys';
import type { StatusFilter } from '../model';

export interface OrganizationFilters {
  /** Substring of the id, name or location, any case. */
  q?: string;
  status?: Exclude<StatusFilter, 'all'>;
  page: number;
  page_size: number;
}

const list = (f: OrganizationFilters, signal?: AbortSignal) =>
  data(api.GET('/api/v1/controller/organizations', { params: { query: { ...f } }, signal })).then(
    (e) => e.data,
  );

/**
 * One page of `GET /api/v1/controller/organizations`, newest first, searched and
 * filtered by the server (`q`, `status`). The previous page stays on screen while
 * the next one loads.
 */
export const organizationsPageQuery = (f: OrganizationFilters) =>
  queryOptions({
    queryKey: queryKeys.organizationsPage(f),
    queryFn: ({ signal }) => list(f, signal),
    placeholderData: keepPreviousData,
    meta: { what: 'Loading organizations' },
  });

export const useOrganizationsPage = (f: OrganizationFilters) => useQuery(organizationsPageQuery(f));

export type StatusCounts = Record<StatusFilter, number>;
const STATUSES = ['active', 'inactive', 'independent'] as const;

/** How many organizations each status filter holds: the totals of four one-item pages. */
export const organizationCountsQuery = () =>
  queryOptions({
    queryKey: queryKeys.organizationCounts,
    queryFn: async ({ signal }): Promise<StatusCounts> => {
      const [all, ...each] = await Promise.all([
        list({ page: 1, page_size: 1 }, signal),
        ...STATUSES.map((status) => list({ status, page: 1, page_size: 1 }, signal)),
      ]);
      const counts: StatusCounts = { all: all.total_items, active: 0, inactive: 0, independent: 0 };
      STATUSES.forEach((s, i) => (counts[s] = each[i].total_items));
      return counts;
    },
    meta: { what: 'Counting organizations' },
  });

export const useOrganizationCounts = () => useQuery(organizationCountsQuery());
