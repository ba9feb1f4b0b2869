import { ApiError, kindOfStatus, type FieldError } from './errors';

export type Query = Record<string, string | number | boolean | null | undefined>;

export interface ApiFetchOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  query?: Query;
  body?: unknown;
  signal?: AbortSignal;
  /** false for the login call: no token, and a 401 there is not a lost session. */
  auth?: boolean;
}

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

export function buildUrl(path: string, query?: Query): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === '') continue;
    params.set(k, String(v));
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
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

/**
 * The one way the dashboard talks to core: same origin, JSON in and out, the
 * session token as a bearer header. Every failure becomes an {@link ApiError};
 * a 401/403 on an authenticated call also tells the auth provider, which sends
 * the user back to the login page.
 */
export async function apiFetch<T>(path: string, opts: ApiFetchOptions = {}): Promise<T> {
  const method = opts.method ?? 'GET';
  const url = buildUrl(path, opts.query);
  const request = `${method} ${path}`;
  const headers: Record<string, string> = { Accept: 'application/json' };
  const auth = opts.auth !== false;
  const token = auth ? tokenSource() : null;
  if (token) headers.Authorization = `Bearer ${token}`;
  let body: string | undefined;
  if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }

  let res: Response;
  try {
    res = await fetch(url, { method, headers, body, signal: opts.signal });
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e;
    throw new ApiError({ kind: 'network', status: 0, detail: 'network error', request });
  }

  const text = await res.text();
  let json: unknown = undefined;
  if (text) {
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
  }

  if (!res.ok) {
    const { detail, fields } = parseDetail(json);
    const retry = Number(res.headers.get('Retry-After'));
    const err = new ApiError({
      kind: kindOfStatus(res.status),
      status: res.status,
      detail: detail || res.statusText || 'request failed',
      fields,
      request,
      retryAfter: Number.isFinite(retry) && retry > 0 ? retry : undefined,
    });
    if (auth && err.isSessionLost) onSessionLost(err, token);
    throw err;
  }
  if (json === undefined) {
    throw new ApiError({
      kind: 'bad_response',
      status: res.status,
      detail: 'the answer is not JSON',
      request,
    });
  }
  return json as T;
}

/** Controller endpoints wrap their answer: `{success, data, message, timestamp}`. */
export interface Envelope<T> {
  success: boolean;
  data: T;
  message: string;
  timestamp: string;
}

/** A page of a controller list endpoint. */
export interface Page<T> {
  items: T[];
  page: number;
  page_size: number;
  total_items: number;
  total_pages: number;
  has_next: boolean;
  has_prev: boolean;
}

/** The most a page may hold (the API answers 422 above it). */
export const MAX_PAGE_SIZE = 500;

/**
 * Every item of a paged controller list: the first page, then the rest a few at a
 * time. 5,000 organizations are 10 requests of 500.
 */
export async function fetchAllPages<T>(
  path: string,
  keyOf: (item: T) => string,
  signal?: AbortSignal,
  filters: Record<string, string> = {},
): Promise<T[]> {
  const get = (page: number) =>
    apiFetch<Envelope<Page<T>>>(path, { query: { ...filters, page, page_size: MAX_PAGE_SIZE }, signal }).then(
      (e) => e.data,
    );
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
