import { queryOptions, useQuery } from '@tanstack/react-query';
import { api, data, MAX_PAGE_SIZE } from '@lib/api/client';
import { queryKeys } from '@lib/api/queryKeys';
import { ORG_ID_PATTERN } from '../model';

/**
 * Whether `id` is taken: an organization of that id among the server's search
 * for it (`?q=`), or instances of an organization of that id. Lists, not
 * `GET …/{id}`: a 404 for a free id would be a console error on every check.
 * A miss (more than a page of matches) is caught after the fact: register then
 * answers `created: false`.
 */
export const organizationExistsQuery = (id: string) =>
  queryOptions({
    queryKey: queryKeys.organizationExists(id),
    queryFn: async ({ signal }) => {
      const [orgs, instances] = await Promise.all([
        data(
          api.GET('/api/v1/controller/organizations', {
            params: { query: { q: id, page: 1, page_size: MAX_PAGE_SIZE } },
            signal,
          }),
        ),
        data(
          api.GET('/api/v1/controller/orchestrators', {
            params: { query: { organization_id: id, page: 1, page_size: 1 } },
            signal,
          }),
        ),
      ]);
      return orgs.data.items.some((o) => o.organization_id === id) || instances.data.total_items > 0;
    },
    enabled: ORG_ID_PATTERN.test(id),
    meta: { what: `Checking organization ID ${id}` },
  });

export const useOrganizationExists = (id: string) => useQuery(organizationExistsQuery(id));
