import { queryOptions, useQuery } from '@tanstack/react-query';
import { apiFetch, type Envelope } from '@lib/api/apiFetch';
import { ApiError } from '@lib/api/errors';
import { queryKeys } from '@lib/api/queryKeys';
import type { Organization } from '@lib/api/types';

/** `GET /api/v1/controller/organizations/{id}` (with its `instances` count). */
export const organizationQuery = (id: string) =>
  queryOptions({
    queryKey: queryKeys.organization(id),
    queryFn: ({ signal }) =>
      apiFetch<Envelope<Organization>>(`/api/v1/controller/organizations/${encodeURIComponent(id)}`, { signal }).then(
        (e) => e.data,
      ),
    meta: { what: `Loading organization ${id}` },
    retry: (count, err) => count < 1 && !(err instanceof ApiError && err.status < 500 && err.status > 0),
  });

export const useOrganization = (id: string) => useQuery(organizationQuery(id));
