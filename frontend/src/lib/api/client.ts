import createClient, { type Middleware } from 'openapi-fetch';
import { ApiError, kindOfStatus, type FieldError } from './errors';
import type { Paths } from './paths';

type TokenSource = () => string | null;
/** `token` is the one the failed request carried. */
type SessionLostHandler = (err: ApiError, token: string | null) => void;

let tokenSource: TokenSource = () => null;
let onSessionLost: SessionLostHandler = () => {};

/** Wired once by the auth provider: where the token comes from, what a 401/403 does. */
export function configureApi(source: TokenSource, lost: SessionLostHandler): void {
  tokenSource = source;
  onSessionLost = lost;
}

export type Query = Record<string, unknown>;

/** `?a=1&b=x+y`: empty, null and undefined values are left out. */
export function serializeQuery(query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === '') continue;
    params.set(k, String(v));
  }
  return params.toString();
}

/** `detail` is a string, or a list of field errors (422). */
function parseDetail(body: unknown): { detail: string; fields: FieldError[] } {
  const raw = (body as { detail?: unknown } | null)?.detail;
  if (typeof raw === 'string') return { detail: raw, fields: [] };
  if (Array.isArray(raw)) {
    const fields = raw.filter(
      (f): f is FieldError => !!f && typeof f === 'object' && Array.isArray((f as FieldError).loc),
    );
    const detail = fields.length
      ? fields.map((f) => `${f.loc[f.loc.length - 1]}: ${f.msg}`).join('; ')
      : JSON.stringify(raw);
    return { detail, fields };
  }
  return { detail: '', fields: [] };
}

function parseJson(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** `GET /api/v1/controller/overview`: the request as errors name it (no query). */
const describeRequest = (request: Request) => `${request.method} ${new URL(request.url, 'http://x').pathname}`;

/** The session token as a bearer header. */
const bearer: Middleware = {
  onRequest({ request }) {
    const token = tokenSource();
    if (token) request.headers.set('Authorization', `Bearer ${token}`);
    return request;
  },
};

/**
 * Every failure becomes an {@link ApiError} (an abort stays an AbortError); with
 * `session`, a 401/403 also tells the auth provider, which sends the user back to
 * the login page.
 */
const errors = (session: boolean): Middleware => ({
  onError({ error, request }) {
    if (error instanceof DOMException && error.name === 'AbortError') return undefined;
    return new ApiError({ kind: 'network', status: 0, detail: 'network error', request: describeRequest(request) });
  },
  async onResponse({ request, response }) {
    const json = parseJson(await response.clone().text());
    if (!response.ok) {
      const { detail, fields } = parseDetail(json);
      const retry = Number(response.headers.get('Retry-After'));
      const err = new ApiError({
        kind: kindOfStatus(response.status),
        status: response.status,
        detail: detail || response.statusText || 'request failed',
        fields,
        request: describeRequest(request),
        retryAfter: Number.isFinite(retry) && retry > 0 ? retry : undefined,
      });
      if (session && err.isSessionLost) {
        const sent = request.headers.get('Authorization');
        onSessionLost(err, sent ? sent.replace(/^Bearer /, '') : null);
      }
      throw err;
    }
    if (json === undefined) {
      throw new ApiError({
        kind: 'bad_response',
        status: response.status,
        detail: 'the answer is not JSON',
        request: describeRequest(request),
      });
    }
    return undefined;
  },
});

function client(session: boolean) {
  const c = createClient<Paths>({
    headers: { Accept: 'application/json' },
    querySerializer: serializeQuery,
    // Read at each call (not captured once), so that tests can stub it.
    fetch: (request: Request) => globalThis.fetch(request),
  });
  if (session) c.use(bearer);
  c.use(errors(session));
  return c;
}

/**
 * The one way the dashboard talks to core: same origin, JSON in and out, typed by
 * path and method from core's OpenAPI document (./schema.d.ts, through ./paths.ts).
 * Calls carry the session token; wrap them in {@link data} to get the answer.
 */
export const api = client(true);

/** For the login call: no token, and a 401 there is not a lost session. */
export const publicApi = client(false);

/**
 * The answer of a call of {@link api}. Its middleware has already turned every
 * failure into a thrown {@link ApiError}, so there is always data here.
 */
export async function data<R extends { data?: unknown }>(call: Promise<R>): Promise<NonNullable<R['data']>> {
  const r = await call;
  return r.data as NonNullable<R['data']>;
}

/** The most a page may hold (the API answers 422 above it). */
export const MAX_PAGE_SIZE = 500;

/** What {@link fetchAllPages} needs of a page. */
export interface PageOf<T> {
  items: T[];
  total_pages: number;
}

/**
 * Every item of a paged controller list: the first page, then the rest a few at a
 * time. 5,000 organizations are 10 requests of 500. `get` asks for page `page` of
 * {@link MAX_PAGE_SIZE}.
 */
export async function fetchAllPages<T>(get: (page: number) => Promise<PageOf<T>>, keyOf: (item: T) => string): Promise<T[]> {
  const first = await get(1);
  const items = [...first.items];
  const rest: number[] = [];
  for (let p = 2; p <= first.total_pages; p++) rest.push(p);
  const CONCURRENCY = 3;
  for (let i = 0; i < rest.length; i += CONCURRENCY) {
    const pages = await Promise.all(rest.slice(i, i + CONCURRENCY).map(get));
    for (const p of pages) items.push(...p.items);
  }
  // A row created while paging shifts the offsets by one: drop what came twice.
  const seen = new Set<string>();
  return items.filter((item) => {
    const key = keyOf(item);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
