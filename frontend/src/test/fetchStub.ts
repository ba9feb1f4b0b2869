import { afterEach, beforeEach, vi } from 'vitest';
import { configureApi } from '@lib/api/client';

/** A JSON response as the API would send it (`body` a string: sent as is). */
export function reply(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return new Response(text, { status, headers: { 'Content-Type': 'application/json', ...headers } });
}

/** One request the dashboard sent, as the tests look at it. */
export interface FetchCall {
  /** Path and query, e.g. `/api/v1/controller/organizations?page=1&page_size=500`. */
  url: string;
  method: string;
  headers: Headers;
  /** The body as sent (`undefined` without one). */
  body: string | undefined;
}

type Answer = Response | Promise<Response>;

export interface FetchStub {
  /** Every request so far, in the order they were sent. */
  readonly calls: FetchCall[];
  /** The URLs of {@link calls}. */
  urls(): string[];
  /** The body of a call, parsed. */
  json(call: FetchCall): unknown;
  /** Every request is answered by `handler`. */
  respond(handler: (call: FetchCall) => Answer): void;
  /** Every request gets `response` (each its own copy). */
  reply(response: Response): void;
  /** The next request gets `response` (before the `respond`/`reply` default). */
  replyOnce(response: Response): FetchStub;
  /** Every request fails the way `fetch` fails (no answer, or an abort). */
  reject(error: unknown): void;
  /** What a 401/403 on an authenticated call told the auth provider. */
  readonly lost: ReturnType<typeof vi.fn>;
}

/**
 * Replaces `fetch` for every test of the file and signs in with token `tok-1`:
 * call it once at the top of a test file. Requests nobody answers get a 404.
 */
export function stubFetch(token: string | null = 'tok-1'): FetchStub {
  const calls: FetchCall[] = [];
  const once: Answer[] = [];
  let handler: (call: FetchCall) => Answer = (call) => reply(404, { detail: `unexpected ${call.method} ${call.url}` });
  let lost = vi.fn();

  async function fakeFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    const request = input instanceof Request && !init ? input : new Request(input, init);
    const url = new URL(request.url, 'http://localhost');
    const call: FetchCall = { url: url.pathname + url.search, method: request.method, headers: request.headers, body: undefined };
    calls.push(call);
    const next = once.shift();
    const text = await request.clone().text();
    call.body = text === '' ? undefined : text;
    return next ?? handler(call);
  }

  beforeEach(() => {
    calls.length = 0;
    once.length = 0;
    handler = (call) => reply(404, { detail: `unexpected ${call.method} ${call.url}` });
    lost = vi.fn();
    vi.stubGlobal('fetch', vi.fn(fakeFetch));
    configureApi(() => token, lost);
  });
  afterEach(() => vi.unstubAllGlobals());

  const stub: FetchStub = {
    calls,
    urls: () => calls.map((c) => c.url),
    json: (call) => (call.body === undefined ? undefined : JSON.parse(call.body)),
    respond: (h) => {
      handler = h;
    },
    reply: (response) => {
      handler = () => response.clone();
    },
    replyOnce: (response) => {
      once.push(response);
      return stub;
    },
    reject: (error) => {
      handler = () => Promise.reject(error);
    },
    get lost() {
      return lost;
    },
  };
  return stub;
}
