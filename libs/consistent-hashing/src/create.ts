/**
 * One factory over every algorithm, for code that picks the algorithm from configuration and for the
 * comparison harness.
 */
import { type BoundedLoadOptions, BoundedLoadRing } from './bounded-load.js';
import { ErrorCodes, fail } from './errors.js';
import { JumpHash } from './jump.js';
import { Maglev, type MaglevOptions } from './maglev.js';
import { ModuloHash } from './modulo.js';
import type { NodeSpec, Placement } from './placement.js';
import { Rendezvous } from './rendezvous.js';
import { HashRing, type HashRingOptions } from './ring.js';

export type PlacementOptions =
  | ({ algorithm: 'ring' } & Omit<HashRingOptions, 'nodes'>)
  | { algorithm: 'jump' }
  | { algorithm: 'rendezvous' }
  | ({ algorithm: 'maglev' } & Omit<MaglevOptions, 'nodes'>)
  | ({ algorithm: 'bounded-load' } & Omit<BoundedLoadOptions, 'nodes'>)
  | { algorithm: 'modulo' };

export const ALGORITHMS = ['ring', 'jump', 'rendezvous', 'maglev', 'bounded-load', 'modulo'] as const;

export function createPlacement(
  options: PlacementOptions,
  nodes: Iterable<string | NodeSpec> = [],
): Placement {
  switch (options.algorithm) {
    case 'ring':
      return new HashRing({ ...options, nodes });
    case 'jump':
      return new JumpHash({ nodes });
    case 'rendezvous':
      return new Rendezvous({ nodes });
    case 'maglev':
      return new Maglev({ ...options, nodes });
    case 'bounded-load':
      return new BoundedLoadRing({ ...options, nodes });
    case 'modulo':
      return new ModuloHash({ nodes });
    default:
      return fail(
        ErrorCodes.INVALID_ARGUMENT,
        `algorithm must be one of ${ALGORITHMS.join(', ')}, got ${String((options as { algorithm?: unknown }).algorithm)}`,
      );
  }
}
