import fastJson from 'fast-json-stringify';
import { type ZodType, z } from 'zod';

/**
 * The read replies' serialiser: fast-json-stringify compiled from the JSON Schema of the route's zod
 * response schema, instead of the platform's zod parse then JSON.stringify. The zod schema stays
 * the one source (types, OpenAPI); the compiled function writes the declared properties only, in
 * order, and throws on a missing required one (a server bug, answered 500 like any other).
 */
export function readSerializer({ schema }: { schema: unknown }): (data: unknown) => string {
  return fastJson(z.toJSONSchema(schema as ZodType, { io: 'output' }) as Parameters<typeof fastJson>[0]);
}
