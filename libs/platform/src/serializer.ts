import type { FastifySerializerCompiler } from 'fastify';
import { createSerializerCompiler } from 'fastify-type-provider-zod';
import { type $ZodType, safeParse } from 'zod/v4/core';

/**
 * Responses serialised through their zod schema, as `fastify-type-provider-zod` does, but cheaper for
 * the schemas most routes have. Its serializer encodes (`safeEncode`), which runs every schema twice
 * (a canary pass, then the real one) and skips zod's compiled object parser: a few microseconds a
 * response. For a schema without codecs, transforms, defaults or catches, encoding and parsing give
 * the same value, so those are parsed; any other schema is encoded as before.
 */

/** Zod types whose parse and encode agree, given children that agree. */
const PLAIN_TYPES = new Set([
  'string',
  'number',
  'int',
  'boolean',
  'bigint',
  'null',
  'undefined',
  'literal',
  'enum',
  'date',
  'any',
  'unknown',
  'never',
  'void',
  'nan',
  'symbol',
  'template_literal',
  'custom',
  'object',
  'array',
  'optional',
  'nullable',
  'readonly',
  'nonoptional',
  'union',
  'intersection',
  'record',
  'tuple',
  'map',
  'set',
]);

interface ZodDefinition {
  type: string;
  shape?: Record<string, $ZodType>;
  catchall?: $ZodType;
  element?: $ZodType;
  innerType?: $ZodType;
  options?: readonly $ZodType[];
  left?: $ZodType;
  right?: $ZodType;
  keyType?: $ZodType;
  valueType?: $ZodType;
  items?: readonly $ZodType[];
  rest?: $ZodType | null;
}

function childrenOf(definition: ZodDefinition): $ZodType[] {
  return [
    ...Object.values(definition.shape ?? {}),
    ...(definition.options ?? []),
    ...(definition.items ?? []),
    ...[definition.catchall, definition.element, definition.innerType, definition.left, definition.right]
      .concat([definition.keyType, definition.valueType, definition.rest ?? undefined])
      .filter((child): child is $ZodType => child !== undefined),
  ];
}

/** True when parsing the schema gives what encoding it would; unknown types count as not plain. */
export function isPlainSchema(schema: $ZodType, seen = new Set<$ZodType>()): boolean {
  if (seen.has(schema)) return true;
  seen.add(schema);
  const definition = schema._zod.def as unknown as ZodDefinition;
  if (!PLAIN_TYPES.has(definition.type)) return false;
  return childrenOf(definition).every((child) => isPlainSchema(child, seen));
}

const encodingSerializer = createSerializerCompiler({});

export const serializerCompiler: FastifySerializerCompiler<unknown> = (route) => {
  const schema = route.schema as $ZodType;
  if (!(schema?._zod && isPlainSchema(schema))) return encodingSerializer(route as never);
  return (data) => {
    const result = safeParse(schema, data);
    // The encoding serializer raises fastify-type-provider-zod's error for a response that does not
    // fit; it is the one that knows how to build it.
    if (!result.success) return encodingSerializer(route as never)(data);
    return JSON.stringify(result.data);
  };
};
