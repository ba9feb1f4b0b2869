/** What went wrong, as the dashboard needs to react to it. */
export type ApiErrorKind =
  | 'unauthorized' // 401: no token, a failed login, or a session that ended
  | 'forbidden' // 403: token unknown
  | 'not_found' // 404
  | 'conflict' // 409
  | 'validation' // 422
  | 'rate_limited' // 429
  | 'unavailable' // 503: persister, database or NATS down
  | 'server' // other 5xx
  | 'network' // no answer at all (core down, connection refused)
  | 'bad_response' // an answer that is not the JSON we expect
  | 'http'; // any other status

/** One entry of a 422 body: `{"loc": ["query", "page_size"], "msg": "…", "type": "…"}`. */
export interface FieldError {
  loc: string[];
  msg: string;
  type?: string;
}

export class ApiError extends Error {
  readonly kind: ApiErrorKind;
  /** HTTP status; 0 when there was no answer. */
  readonly status: number;
  /** The API's `detail`, flattened to one line. */
  readonly detail: string;
  readonly fields: FieldError[];
  /** Seconds from `Retry-After` (429). */
  readonly retryAfter?: number;
  /** The request, e.g. `GET /api/v1/controller/overview`. */
  readonly request: string;

  constructor(init: {
    kind: ApiErrorKind;
    status: number;
    detail: string;
    request: string;
    fields?: FieldError[];
    retryAfter?: number;
  }) {
    super(`${init.request}: ${init.status ? `${init.status} ` : ''}${init.detail}`);
    this.name = 'ApiError';
    this.kind = init.kind;
    this.status = init.status;
    this.detail = init.detail;
    this.request = init.request;
    this.fields = init.fields ?? [];
    this.retryAfter = init.retryAfter;
  }

  /** 401/403 on an authenticated request: the session is gone. */
  get isSessionLost(): boolean {
    return this.kind === 'unauthorized' || this.kind === 'forbidden';
  }

  /** The message of a named field of a 422, if any (`fieldMessage('organization_id')`). */
  fieldMessage(field: string): string | undefined {
    return this.fields.find((f) => f.loc[f.loc.length - 1] === field)?.msg;
  }
}

export function kindOfStatus(status: number): ApiErrorKind {
  switch (status) {
    case 401:
      return 'unauthorized';
    case 403:
      return 'forbidden';
    case 404:
      return 'not_found';
    case 409:
      return 'conflict';
    case 422:
      return 'validation';
    case 429:
      return 'rate_limited';
    case 503:
      return 'unavailable';
    default:
      return status >= 500 ? 'server' : 'http';
  }
}

/** A short human text for any error, for toasts and inline messages. */
export function describeError(err: unknown): string {
  if (err instanceof ApiError) {
    switch (err.kind) {
      case 'network':
        return 'the controller API is not reachable';
      case 'rate_limited':
        return `${err.detail}${err.retryAfter ? ` (retry in ${err.retryAfter} s)` : ''}`;
      default:
        return err.status ? `${err.status} ${err.detail}` : err.detail;
    }
  }
  if (err instanceof Error) return err.message;
  return String(err);
}
