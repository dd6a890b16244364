/**
 * Multi-master ids: k database servers, each with an auto-increment that steps by k from its
 * own offset (server i issues i, i+k, i+2k, ...), so their ids never collide, and a balancer that
 * sends requests round-robin. What the design discussion says about it holds here in numbers:
 * ids are unique but not ordered across servers, and adding a server changes k for everyone.
 *
 * This module is the balancer's arithmetic: which server serves each id of a request.
 */

/** The 1-based server of each of `count` ids, continuing round-robin from `next` (0-based). */
export function assignServers(
  count: number,
  servers: number,
  next: number,
): { perId: number[]; counts: number[]; next: number } {
  const perId = new Array<number>(count);
  const counts = new Array<number>(servers).fill(0);
  let cursor = next;
  for (let index = 0; index < count; index += 1) {
    perId[index] = cursor + 1;
    counts[cursor]! += 1;
    cursor = (cursor + 1) % servers;
  }
  return { perId, counts, next: cursor };
}

/** Interleaves per-server id lists back into the order `assignServers` handed them out. */
export function interleave(perId: number[], idsByServer: bigint[][]): bigint[] {
  const taken = new Array<number>(idsByServer.length).fill(0);
  return perId.map((server) => {
    const position = taken[server - 1]!;
    taken[server - 1] = position + 1;
    const id = idsByServer[server - 1]![position];
    if (id === undefined) throw new Error(`server ${server} returned too few ids`);
    return id;
  });
}
