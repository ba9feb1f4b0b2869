import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { apiFetch, buildUrl, configureApi, fetchAllPages } from './apiFetch';
import { ApiError, describeError } from './errors';

function reply(status: number, body: unknown, headers: Record<string, string> = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return new Response(text, { status, headers: { 'Content-Type': 'application/json', ...headers } });
}

let lost: ReturnType<typeof vi.fn>;
let fetchMock: ReturnType<typeof vi.fn>;

beforeEach(() => {
  lost = vi.fn();
  configureApi(() => 'tok-1', lost);
  fetchMock = vi.fn();
  vi.stubGlobal('fetch', fetchMock);
});
afterEach(() => vi.unstubAllGlobals());

async function failure(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ApiError);
    return e as ApiError;
  }
  throw new Error('expected a failure');
}

describe('apiFetch', () => {
  it('sends the bearer token and JSON, and returns the JSON answer', async () => {
    fetchMock.mockResolvedValue(reply(200, { success: true, data: 1 }));
    const out = await apiFetch('/api/v1/x', { method: 'PUT', body: { a: 1 }, query: { q: 'b c', empty: '', no: undefined } });
    expect(out).toEqual({ success: true, data: 1 });
    const [url, init] = fetchMock.mock.calls[0];
    expect(url).toBe('/api/v1/x?q=b+c');
    expect(init.method).toBe('PUT');
    expect(init.headers.Authorization).toBe('Bearer tok-1');
    expect(init.headers['Content-Type']).toBe('application/json');
    expect(init.body).toBe('{"a":1}');
  });

  it('maps 401 to unauthorized and reports the lost session with the token used', async () => {
    fetchMock.mockResolvedValue(reply(401, { detail: 'Missing bearer token' }));
    const e = await failure(apiFetch('/api/v1/controller/overview'));
    expect(e.kind).toBe('unauthorized');
    expect(e.status).toBe(401);
    expect(e.detail).toBe('Missing bearer token');
    expect(e.isSessionLost).toBe(true);
    expect(lost).toHaveBeenCalledWith(e, 'tok-1');
  });

  it('maps 403 to forbidden (session lost)', async () => {
    fetchMock.mockResolvedValue(reply(403, { detail: 'Invalid token' }));
    const e = await failure(apiFetch('/api/v1/internal/messages'));
    expect(e.kind).toBe('forbidden');
    expect(e.isSessionLost).toBe(true);
    expect(lost).toHaveBeenCalledTimes(1);
  });

  it('does not treat a failed login (auth: false) as a lost session, and sends no token', async () => {
    fetchMock.mockResolvedValue(reply(401, { detail: 'Invalid credentials' }));
    const e = await failure(apiFetch('/api/v1/internal/auth/login', { method: 'POST', body: {}, auth: false }));
    expect(e.kind).toBe('unauthorized');
    expect(e.detail).toBe('Invalid credentials');
    expect(lost).not.toHaveBeenCalled();
    expect(fetchMock.mock.calls[0][1].headers.Authorization).toBeUndefined();
  });

  it('keeps the field errors of a 422', async () => {
    fetchMock.mockResolvedValue(
      reply(422, { detail: [{ loc: ['query', 'page_size'], msg: 'must be between 1 and 500', type: 'value_error' }] }),
    );
    const e = await failure(apiFetch('/api/v1/controller/organizations', { query: { page_size: 501 } }));
    expect(e.kind).toBe('validation');
    expect(e.fields).toHaveLength(1);
    expect(e.fieldMessage('page_size')).toBe('must be between 1 and 500');
    expect(e.detail).toBe('page_size: must be between 1 and 500');
    expect(lost).not.toHaveBeenCalled();
  });

  it('maps 404, 409 and 503 with their detail', async () => {
    fetchMock.mockResolvedValueOnce(reply(404, { detail: 'org-x not found' }));
    expect((await failure(apiFetch('/a'))).kind).toBe('not_found');
    fetchMock.mockResolvedValueOnce(reply(409, { detail: 'exists' }));
    expect((await failure(apiFetch('/a'))).kind).toBe('conflict');
    fetchMock.mockResolvedValueOnce(reply(503, { detail: 'persister unavailable: timed out' }));
    const e = await failure(apiFetch('/api/v1/internal/orchestrators/register', { method: 'POST', body: {} }));
    expect(e.kind).toBe('unavailable');
    expect(describeError(e)).toBe('503 persister unavailable: timed out');
    expect(e.message).toContain('POST /api/v1/internal/orchestrators/register');
  });

  it('reads Retry-After of a 429', async () => {
    fetchMock.mockResolvedValue(reply(429, { detail: 'Too many failed logins' }, { 'Retry-After': '900' }));
    const e = await failure(apiFetch('/x', { auth: false }));
    expect(e.kind).toBe('rate_limited');
    expect(e.retryAfter).toBe(900);
  });

  it('maps other 5xx to server, even without a JSON body', async () => {
    fetchMock.mockResolvedValue(new Response('<html>bad gateway</html>', { status: 502, statusText: 'Bad Gateway' }));
    const e = await failure(apiFetch('/x'));
    expect(e.kind).toBe('server');
    expect(e.status).toBe(502);
    expect(e.detail).toBe('Bad Gateway');
  });

  it('maps a refused connection to network', async () => {
    fetchMock.mockRejectedValue(new TypeError('Failed to fetch'));
    const e = await failure(apiFetch('/api/v1/controller/overview'));
    expect(e.kind).toBe('network');
    expect(e.status).toBe(0);
    expect(describeError(e)).toBe('the controller API is not reachable');
  });

  it('rejects a 200 that is not JSON', async () => {
    fetchMock.mockResolvedValue(new Response('<!doctype html>', { status: 200 }));
    expect((await failure(apiFetch('/x'))).kind).toBe('bad_response');
  });

  it('passes an abort through untouched', async () => {
    fetchMock.mockRejectedValue(new DOMException('aborted', 'AbortError'));
    await expect(apiFetch('/x')).rejects.toMatchObject({ name: 'AbortError' });
  });
});

describe('fetchAllPages', () => {
  it('reads every page of 500 and drops rows that came twice', async () => {
    const page = (n: number, ids: string[], pages: number) =>
      reply(200, { success: true, data: { items: ids.map((id) => ({ id })), page: n, page_size: 500, total_items: 3, total_pages: pages, has_next: n < pages, has_prev: n > 1 } });
    fetchMock
      .mockResolvedValueOnce(page(1, ['a', 'b'], 3))
      .mockResolvedValueOnce(page(2, ['b', 'c'], 3))
      .mockResolvedValueOnce(page(3, ['d'], 3));
    const items = await fetchAllPages<{ id: string }>('/api/v1/controller/organizations', (i) => i.id);
    expect(items.map((i) => i.id)).toEqual(['a', 'b', 'c', 'd']);
    expect(fetchMock.mock.calls.map((c) => c[0])).toEqual([
      '/api/v1/controller/organizations?page=1&page_size=500',
      '/api/v1/controller/organizations?page=2&page_size=500',
      '/api/v1/controller/organizations?page=3&page_size=500',
    ]);
  });
});

describe('buildUrl', () => {
  it('leaves a path without query alone', () => {
    expect(buildUrl('/a')).toBe('/a');
    expect(buildUrl('/a', { x: null })).toBe('/a');
  });
});
