import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { QueryClient } from '@tanstack/react-query';
import { configureApi } from '@lib/api/apiFetch';
import { organizationCountsQuery, organizationsPageQuery } from './listOrganizations';

const page = (total: number) =>
  new Response(
    JSON.stringify({ success: true, data: { items: [], page: 1, page_size: 1, total_items: total, total_pages: total, has_next: false, has_prev: false } }),
    { status: 200, headers: { 'Content-Type': 'application/json' } },
  );

let fetchMock: ReturnType<typeof vi.fn>;
beforeEach(() => {
  configureApi(() => 'tok-1', vi.fn());
  fetchMock = vi.fn();
  vi.stubGlobal('fetch', fetchMock);
});
afterEach(() => vi.unstubAllGlobals());

describe('the organization list asks the server to filter', () => {
  it('sends the search, the status and the page', async () => {
    fetchMock.mockResolvedValue(page(1));
    await new QueryClient().fetchQuery(organizationsPageQuery({ q: 'bulk 7', status: 'inactive', page: 3, page_size: 20 }));
    expect(fetchMock.mock.calls[0][0]).toBe('/api/v1/controller/organizations?q=bulk+7&status=inactive&page=3&page_size=20');
  });

  it('counts each status with a one-item page', async () => {
    fetchMock.mockImplementation((url: string) => {
      const status = new URL(url, 'http://x').searchParams.get('status');
      return Promise.resolve(page({ active: 2, inactive: 5, independent: 1 }[status ?? ''] ?? 8));
    });
    const counts = await new QueryClient().fetchQuery(organizationCountsQuery());
    expect(counts).toEqual({ all: 8, active: 2, inactive: 5, independent: 1 });
    expect(fetchMock.mock.calls.map((c) => c[0])).toContain('/api/v1/controller/organizations?status=independent&page=1&page_size=1');
  });
});
