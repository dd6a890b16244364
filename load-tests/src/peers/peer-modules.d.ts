/** The parts of untyped peer packages the benchmarks call. */
declare module 'hashring' {
  interface HashRingOptions {
    'vnode count'?: number;
    replicas?: number;
    'max cache size'?: number;
  }
  export default class HashRing {
    constructor(servers: string[], algorithm?: string, options?: HashRingOptions);
    ring: unknown[];
    get(key: string): string;
  }
}

declare module 'consistent-hash' {
  interface ConsistentHashOptions {
    range?: number;
    weight?: number;
    distribution?: 'random' | 'uniform';
  }
  export default class ConsistentHash {
    constructor(options?: ConsistentHashOptions);
    keyCount: number;
    add(node: string, weight?: number): this;
    get(key: string): string;
  }
}
