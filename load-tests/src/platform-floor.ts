import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { HttpScenario } from './http-bench.js';
import { repoRoot } from './paths.js';
import type { TargetSpec } from './target.js';

/**
 * The platform floor (#8): a `createService` app with every platform part on, answering a no-op route
 * with a validated query or body and a zod response schema. Every HTTP bench measures it beside its
 * service, so each report shows how much of the service's ratio the platform already takes.
 */
export const PLATFORM_FLOOR_TARGET: TargetSpec = {
  modulePath: pathToFileURL(join(repoRoot, 'libs/platform/scripts/floor-target.ts')),
};

const FLOOR_PATH = '/floor';
const METHODS_WITH_BODY = new Set(['POST', 'PUT', 'PATCH']);

/** The floor scenario of a bench: the method, headers and body of its first scenario, on the no-op route. */
export function floorScenario(first: HttpScenario): HttpScenario {
  const method = first.method ?? 'GET';
  const withBody = METHODS_WITH_BODY.has(method);
  return {
    name: `platform floor: no-op ${method} in a createService app`,
    method,
    path: withBody ? FLOOR_PATH : `${FLOOR_PATH}?name=bench`,
    ...(first.headers === undefined ? {} : { headers: first.headers }),
    // The floor's body schema takes any JSON object; anything else goes as an empty one.
    ...(withBody ? { body: isObject(first.body) ? first.body : {} } : {}),
    ...(first.connections === undefined ? {} : { connections: first.connections }),
  };
}

function isObject(body: HttpScenario['body']): body is Record<string, unknown> {
  return typeof body === 'object' && body !== null && !Array.isArray(body);
}
