// The paths the client is typed by: `paths` of ./schema.d.ts (generated from
// core's OpenAPI document, scripts/api_types.sh), with two faults of that
// document mended here at the type level, so that ./schema.d.ts stays as
// generated:
//
// 1. Query parameters declared `in: path` (e.g. `page`, `page_size`, `q` of
//    `GET /api/v1/controller/organizations`): a path parameter whose name is not
//    in the path template is taken as an optional query parameter.
// 2. Operation ids used twice (`list`, `create`, `logs`, ...): openapi-typescript
//    keys `operations` by id, and TypeScript keeps the first of two equal keys,
//    so e.g. `GET /api/v1/internal/admins` would be typed as the rollout list.
//    The paths the dashboard calls that are affected are declared in
//    `Shadowed` below from the document's component schemas.
// 3. A free-form JSON body declared as an empty object (`Record<string, never>`,
//    which accepts no key): `PUT /api/v1/controller/organizations/{id}/features`,
//    also in `Shadowed`.
//
// These become no-ops once core's document is fixed (then `Shadowed` can go).

import type { components, paths } from './schema';

type Schemas = components['schemas'];

/** The `{name}`s of a path template. */
type TemplateNames<P extends string> = P extends `${string}{${infer N}}${infer Rest}` ? N | TemplateNames<Rest> : never;

type Misplaced<P extends string, PP> = Exclude<keyof PP, TemplateNames<P>>;

type Mend<P extends string, Op> = Op extends { parameters: { path?: infer PP } }
  ? [Misplaced<P, NonNullable<PP>>] extends [never]
    ? Op
    : Omit<Op, 'parameters'> & {
        parameters: Omit<Op['parameters'], 'path' | 'query'> &
          ([TemplateNames<P>] extends [never]
            ? { path?: never }
            : { path: Pick<NonNullable<PP>, TemplateNames<P> & keyof NonNullable<PP>> }) & {
            query?: { [K in Misplaced<P, NonNullable<PP>>]?: NonNullable<PP>[K] | '' };
          };
      }
  : Op;

/** An operation with a JSON body (or none) and a JSON answer. */
type Operation<Query, Body, Answer, Path = never> = {
  parameters: { query?: Query; header?: never; cookie?: never } & ([Path] extends [never] ? { path?: never } : { path: Path });
  responses: { 200: { headers: { [name: string]: unknown }; content: { 'application/json': Answer } } };
} & ([Body] extends [never] ? { requestBody?: never } : { requestBody: { content: { 'application/json': Body } } });

/** The operations the duplicate ids hide (fault 2 above). */
interface Shadowed {
  '/api/v1/internal/admins': {
    get: Operation<never, never, Schemas['AdminList']>;
    post: Operation<never, Schemas['NewAdmin'], Schemas['AdminAdded']>;
  };
  '/api/v1/controller/organizations/{id}/features': {
    put: Operation<never, { features: Record<string, unknown> }, Schemas['Envelope_FeaturesMerged'], { id: string }>;
  };
  '/api/v1/internal/logs': {
    get: Operation<{ q?: string | null; level?: string | null; source?: string | null; limit?: number }, never, Schemas['LogList']>;
  };
}

type Mended = {
  [P in keyof paths & string]: { [M in keyof paths[P]]: M extends 'parameters' ? paths[P][M] : Mend<P, paths[P][M]> };
};

export type Paths = Omit<Mended, keyof Shadowed> & {
  [P in keyof Shadowed]: Omit<Mended[P], keyof Shadowed[P]> & Shadowed[P];
};
