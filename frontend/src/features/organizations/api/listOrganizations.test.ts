import { describe, expect, it } from 'vitest';
import { QueryClient } from '@tanstack/react-query';
import { reply, stubFetch } from '../../../test/fetchStub';
import { organizationCountsQuery, organizationsPageQuery } from './listOrganizations';

const page = (total: number) =>
  reply(200, { success: true, data: { items: [], page: 1, page_size: 1, total_items: total, total_pages: total, has_next: false, has_prev: false } });

const server = stubFetch();

describe('the organization list asks the server to filter', () => {
  it('sends the search, the status and the page', async () => {
    server.reply(page(1));
    await new QueryClient().fetchQuery(organizationsPageQuery({ q: 'bulk 7', status: 'inactive', page: 3, page_size: 20 }));
    expect(server.calls[0].url).toBe('/api/v1/controller/organizations?q=bulk+7&status=inactive&page=3&page_size=20');
  });

  it('counts each status with a one-item page', async () => {
    server.respond(({ url }) => {
      const status = new URL(url, 'http://x').searchParams.get('status');
      return page({ active: 2, inactive: 5, independent: 1 }[status ?? ''] ?? 8);
    });
    const counts = await new QueryClient().fetchQuery(organizationCountsQuery());
    expect(counts).toEqual({ all: 8, active: 2, inactive: 5, independent: 1 });
    expect(server.urls()).toContain('/api/v1/controller/organizations?status=independent&page=1&page_size=1');
  });
});
