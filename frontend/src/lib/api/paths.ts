// The paths the client is typed by: `paths` of ./schema.d.ts, generated from
// core's OpenAPI document (scripts/api_types.sh) and kept as generated.
//
// The one change made here: a query value may also be `''` or `null` (an unset
// filter), which the client leaves out of the query string like `undefined`
// (`serializeQuery` in ./client.ts).

import type { paths } from './schema';

type Blankable<Q> = { [K in keyof Q]: Q[K] | '' | null };

type Mend<Op> = Op extends { parameters: { query?: infer Q } }
  ? [NonNullable<Q>] extends [never]
    ? Op
    : Omit<Op, 'parameters'> & {
        parameters: Omit<Op['parameters'], 'query'> &
          (undefined extends Op['parameters']['query']
            ? { query?: Blankable<NonNullable<Q>> }
            : { query: Blankable<NonNullable<Q>> });
      }
  : Op;

export type Paths = {
  [P in keyof paths]: { [M in keyof paths[P]]: M extends 'parameters' ? paths[P][M] : Mend<paths[P][M]> };
};
