import { queryOptions, useQuery } from '@tanstack/react-query';
import { api, data } from '@lib/api/client';
import { ApiError } from '@lib/api/errors';
import { queryKeys } from '@lib/api/queryKeys';

/** `GET /api/v1/controller/organizations/{id}` (with its `instances` count). */
export const organizationQuery = (id: string) =>
  queryOptions({
    queryKey: queryKeys.organization(id),
    queryFn: ({ signal }) =>
      data(api.GET('/api/v1/controller/organizations/{id}', { params: { path: { id } }, signal })).then(
        (e) => e.data,
      ),
    meta: { what: `Loading organization ${id}` },
    retry: (count, err) => count < 1 && !(err instanceof ApiError && err.status < 500 && err.status > 0),
  });

export const useOrganization = (id: string) => useQuery(organizationQuery(id));
