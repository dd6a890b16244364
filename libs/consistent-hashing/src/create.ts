/**
 * One factory over every algorithm, for code that picks the algorithm from configuration and for the
 * comparison harness.
 */
import { type BoundedLoadOptions, BoundedLoadRing } from './bounded-load.js';
import { ConsistentHashingErrorCode, fail } from './errors.js';
import { JumpHash, type JumpHashOptions } from './jump.js';
import { Maglev, type MaglevOptions } from './maglev.js';
import { ModuloHash, type ModuloHashOptions } from './modulo.js';
import type { Placement } from './placement.js';
import { Rendezvous, type RendezvousOptions } from './rendezvous.js';
import { HashRing, type HashRingOptions } from './ring.js';

/** Each algorithm's constructor options, `nodes` included (in the options, as the constructors take them). */
export type PlacementOptions =
  | ({ algorithm: 'ring' } & HashRingOptions)
  | ({ algorithm: 'jump' } & JumpHashOptions)
  | ({ algorithm: 'rendezvous' } & RendezvousOptions)
  | ({ algorithm: 'maglev' } & MaglevOptions)
  | ({ algorithm: 'bounded-load' } & BoundedLoadOptions)
  | ({ algorithm: 'modulo' } & ModuloHashOptions);

export const ALGORITHMS = ['ring', 'jump', 'rendezvous', 'maglev', 'bounded-load', 'modulo'] as const;

export function createPlacement(options: PlacementOptions): Placement {
  if (typeof options !== 'object' || options === null) {
    fail(
      ConsistentHashingErrorCode.INVALID_ARGUMENT,
      'createPlacement takes an options object: { algorithm, nodes, ... }',
    );
  }
  switch (options.algorithm) {
    case 'ring':
      return new HashRing(options);
    case 'jump':
      return new JumpHash(options);
    case 'rendezvous':
      return new Rendezvous(options);
    case 'maglev':
      return new Maglev(options);
    case 'bounded-load':
      return new BoundedLoadRing(options);
    case 'modulo':
      return new ModuloHash(options);
    default:
      return fail(
        ConsistentHashingErrorCode.INVALID_ARGUMENT,
        `algorithm must be one of ${ALGORITHMS.join(', ')}, got ${String((options as { algorithm?: unknown }).algorithm)}`,
      );
  }
}
