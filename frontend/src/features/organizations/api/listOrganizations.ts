import { queryOptions, useQuery } from '@tanstack/react-query';
import { fetchAllPages } from '@lib/api/apiFetch';
import { queryKeys } from '@lib/api/queryKeys';
import type { Organization } from '@lib/api/types';

/**
 * Every organization, newest first, via `GET /api/v1/controller/organizations`
 * in pages of 500. The API has no search or status filter, so the page filters
 * and pages what it holds; only one page of cards is rendered at a time.
 */
export const allOrganizationsQuery = () =>
  queryOptions({
    queryKey: queryKeys.organizationsAll,
    queryFn: ({ signal }) =>
      fetchAllPages<Organization>('/api/v1/controller/organizations', (o) => o.organization_id, signal),
    meta: { what: 'Loading organizations' },
  });

export const useAllOrganizations = () => useQuery(allOrganizationsQuery());
