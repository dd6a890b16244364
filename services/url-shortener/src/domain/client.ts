import { isIP } from 'node:net';

/**
 * Who a request comes from, for rate limits and the unique-click figure. By default the socket's
 * peer address, which a client cannot forge. Behind a reverse proxy every peer is the proxy, so
 * with TRUST_PROXY the last X-Forwarded-For address is taken instead: the one our proxy appended,
 * not the ones the client wrote before it (an X-Forwarded-For of the client's own is kept by
 * proxies at the front of the list).
 */

export interface ClientRequest {
  headers: Record<string, string | string[] | undefined>;
  socket: { remoteAddress?: string | undefined };
}

const UNKNOWN_CLIENT = 'unknown';

function lastForwardedAddress(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  const joined = Array.isArray(header) ? header.join(',') : header;
  const last = joined.slice(joined.lastIndexOf(',') + 1).trim();
  return isIP(last) === 0 ? undefined : last;
}

export function clientAddressOf(request: ClientRequest, trustProxy: boolean): string {
  const peer = request.socket.remoteAddress ?? UNKNOWN_CLIENT;
  if (!trustProxy) return peer;
  return lastForwardedAddress(request.headers['x-forwarded-for']) ?? peer;
}
