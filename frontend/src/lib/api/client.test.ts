import { describe, expect, it } from 'vitest';
import { reply, stubFetch } from '../../test/fetchStub';
import { api, data, fetchAllPages, MAX_PAGE_SIZE, publicApi } from './client';
import { ApiError, describeError } from './errors';

const server = stubFetch();

async function failure(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ApiError);
    return e as ApiError;
  }
  throw new Error('expected a failure');
}

const overview = () => data(api.GET('/api/v1/controller/overview'));

describe('the API client', () => {
  it('sends the bearer token and JSON, and returns the JSON answer', async () => {
    server.reply(reply(200, { success: true, data: 1 }));
    const out = await data(
      api.PUT('/api/v1/internal/messages/{id}/status', { params: { path: { id: 'm 1' } }, body: { status: 'accepted' } }),
    );
    expect(out).toEqual({ success: true, data: 1 });
    const [call] = server.calls;
    expect(call.url).toBe('/api/v1/internal/messages/m%201/status');
    expect(call.method).toBe('PUT');
    expect(call.headers.get('Authorization')).toBe('Bearer tok-1');
    expect(call.headers.get('Content-Type')).toBe('application/json');
    expect(call.headers.get('Accept')).toBe('application/json');
    expect(call.body).toBe('{"status":"accepted"}');
  });

  it('leaves empty query values out, and sends no body without one', async () => {
    server.reply(reply(200, { success: true, data: {} }));
    await data(api.GET('/api/v1/controller/organizations', { params: { query: { q: 'b c', status: '', page: undefined } } }));
    await data(api.GET('/api/v1/controller/organizations', { params: { query: { q: null, status: '' } } }));
    expect(server.urls()).toEqual(['/api/v1/controller/organizations?q=b+c', '/api/v1/controller/organizations']);
    expect(server.calls[0].body).toBeUndefined();
    expect(server.calls[0].headers.get('Content-Type')).toBeNull();
  });

  it('maps 401 to unauthorized and reports the lost session with the token used', async () => {
    server.reply(reply(401, { detail: 'Missing bearer token' }));
    const e = await failure(overview());
    expect(e.kind).toBe('unauthorized');
    expect(e.status).toBe(401);
    expect(e.detail).toBe('Missing bearer token');
    expect(e.isSessionLost).toBe(true);
    expect(server.lost).toHaveBeenCalledWith(e, 'tok-1');
  });

  it('maps 403 to forbidden (session lost)', async () => {
    server.reply(reply(403, { detail: 'Invalid token' }));
    const e = await failure(data(api.GET('/api/v1/internal/messages')));
    expect(e.kind).toBe('forbidden');
    expect(e.isSessionLost).toBe(true);
    expect(server.lost).toHaveBeenCalledTimes(1);
  });

  it('does not treat a failed login (publicApi) as a lost session, and sends no token', async () => {
    server.reply(reply(401, { detail: 'Invalid credentials' }));
    const e = await failure(
      data(publicApi.POST('/api/v1/internal/auth/login', { body: { username: 'a', password: 'b' } })),
    );
    expect(e.kind).toBe('unauthorized');
    expect(e.detail).toBe('Invalid credentials');
    expect(server.lost).not.toHaveBeenCalled();
    expect(server.calls[0].headers.get('Authorization')).toBeNull();
  });

  it('keeps the field errors of a 422', async () => {
    server.reply(
      reply(422, { detail: [{ loc: ['query', 'page_size'], msg: 'must be between 1 and 500', type: 'value_error' }] }),
    );
    const e = await failure(
      data(api.GET('/api/v1/controller/organizations', { params: { query: { page_size: MAX_PAGE_SIZE + 1 } } })),
    );
    expect(e.kind).toBe('validation');
    expect(e.fields).toHaveLength(1);
    expect(e.fieldMessage('page_size')).toBe('must be between 1 and 500');
    expect(e.detail).toBe('page_size: must be between 1 and 500');
    expect(server.lost).not.toHaveBeenCalled();
  });

  it('maps 404, 409 and 503 with their detail', async () => {
    server.replyOnce(reply(404, { detail: 'org-x not found' }));
    expect((await failure(overview())).kind).toBe('not_found');
    server.replyOnce(reply(409, { detail: 'exists' }));
    expect((await failure(overview())).kind).toBe('conflict');
    server.replyOnce(reply(503, { detail: 'persister unavailable: timed out' }));
    const e = await failure(
      data(
        api.POST('/api/v1/internal/orchestrators/register', {
          body: { organization_id: 'o', orchestrator_id: 'o' },
        }),
      ),
    );
    expect(e.kind).toBe('unavailable');
    expect(describeError(e)).toBe('503 persister unavailable: timed out');
    expect(e.message).toContain('POST /api/v1/internal/orchestrators/register');
  });

  it('reads Retry-After of a 429', async () => {
    server.reply(reply(429, { detail: 'Too many failed logins' }, { 'Retry-After': '900' }));
    const e = await failure(data(publicApi.POST('/api/v1/internal/auth/login', { body: { username: 'a', password: 'b' } })));
    expect(e.kind).toBe('rate_limited');
    expect(e.retryAfter).toBe(900);
  });

  it('maps other 5xx to server, even without a JSON body', async () => {
    server.reply(new Response('<html>bad gateway</html>', { status: 502, statusText: 'Bad Gateway' }));
    const e = await failure(overview());
    expect(e.kind).toBe('server');
    expect(e.status).toBe(502);
    expect(e.detail).toBe('Bad Gateway');
  });

  it('maps a refused connection to network', async () => {
    server.reject(new TypeError('Failed to fetch'));
    const e = await failure(overview());
    expect(e.kind).toBe('network');
    expect(e.status).toBe(0);
    expect(describeError(e)).toBe('the controller API is not reachable');
  });

  it('rejects a 200 that is not JSON', async () => {
    server.reply(new Response('<!doctype html>', { status: 200 }));
    expect((await failure(overview())).kind).toBe('bad_response');
  });

  it('passes an abort through untouched', async () => {
    server.reject(new DOMException('aborted', 'AbortError'));
    await expect(overview()).rejects.toMatchObject({ name: 'AbortError' });
  });
});

describe('fetchAllPages', () => {
  it('reads every page of 500 and drops rows that came twice', async () => {
    const page = (n: number, ids: string[], pages: number) =>
      reply(200, {
        success: true,
        data: { items: ids.map((id) => ({ id })), page: n, page_size: 500, total_items: 3, total_pages: pages, has_next: n < pages, has_prev: n > 1 },
      });
    server
      .replyOnce(page(1, ['a', 'b'], 3))
      .replyOnce(page(2, ['b', 'c'], 3))
      .replyOnce(page(3, ['d'], 3));
    const items = await fetchAllPages(
      (page) =>
        data(api.GET('/api/v1/controller/organizations', { params: { query: { page, page_size: MAX_PAGE_SIZE } } })).then(
          (e) => e.data as unknown as { items: { id: string }[]; total_pages: number },
        ),
      (i) => i.id,
    );
    expect(items.map((i) => i.id)).toEqual(['a', 'b', 'c', 'd']);
    expect(server.urls()).toEqual([
      '/api/v1/controller/organizations?page=1&page_size=500',
      '/api/v1/controller/organizations?page=2&page_size=500',
      '/api/v1/controller/organizations?page=3&page_size=500',
    ]);
  });
});
