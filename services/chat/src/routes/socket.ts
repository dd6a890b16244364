import websocket from '@fastify/websocket';
import { bearerTokenOf, type ServiceApp, type TokenAuthority } from '@sysdesign/platform';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { PROTOCOL } from '../domain/protocol.js';
import { errors } from '../errors.js';
import type { Gateway } from '../gateway/gateway.js';

export interface SocketRouteOptions {
  gateway: Gateway;
  authority: TokenAuthority;
  frameBytesMax: number;
}

/** Browsers cannot set headers on a WebSocket: they offer the token as a subprotocol `bearer.<jwt>`. */
const BEARER_PROTOCOL = /^bearer\.([A-Za-z0-9\-_.]+)$/;

function tokenOf(request: FastifyRequest): string {
  const offered = request.headers['sec-websocket-protocol'];
  if (typeof offered === 'string') {
    for (const protocol of offered.split(',')) {
      const match = BEARER_PROTOCOL.exec(protocol.trim());
      if (match) return match[1]!;
    }
  }
  return bearerTokenOf(request.headers.authorization);
}

const socketQuery = z.object({
  /** Which of the user's devices this is: its cursors (acked sequences) are kept per device. */
  device: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/, '1-64 letters, digits, dot, underscore or dash')
    .default('default'),
});

/**
 * `GET /v1/socket`: the WebSocket, authenticated at the handshake (before the upgrade, so a bad
 * token gets a 401 problem and no socket). A plain GET gets 426.
 */
export async function registerSocketRoute(app: ServiceApp, options: SocketRouteOptions): Promise<void> {
  const { gateway } = options;
  await app.register(websocket, {
    options: {
      maxPayload: options.frameBytesMax,
      // Pick our protocol when offered; never echo the bearer "protocol" (it holds the token).
      handleProtocols: (protocols) => (protocols.has(PROTOCOL) ? PROTOCOL : false),
    },
    preClose: async () => {
      await gateway.close();
    },
  });
  const users = new WeakMap<FastifyRequest, string>();
  app.route({
    method: 'GET',
    url: '/v1/socket',
    schema: {
      tags: ['socket'],
      summary: 'The chat WebSocket (protocol chat.v1)',
      description:
        'Upgrade with `Authorization: Bearer <jwt>` or subprotocols `chat.v1, bearer.<jwt>`. 401 without a valid ' +
        'token, 503 CHAT_ERR_TOO_MANY_CONNECTIONS past the instance or per-user bound, 426 without an upgrade.',
      querystring: socketQuery,
    },
    preValidation: async (request) => {
      const { subject } = await options.authority.verify(tokenOf(request));
      const refusal = gateway.refusal(subject);
      if (refusal) throw errors.CHAT_ERR_TOO_MANY_CONNECTIONS(refusal, {}, { 'retry-after': '5' });
      users.set(request, subject);
    },
    handler: async () => {
      throw errors.CHAT_ERR_UPGRADE_REQUIRED('connect with a WebSocket client', {}, { upgrade: 'websocket' });
    },
    wsHandler: (socket, request) => {
      const userId = users.get(request);
      const { device } = socketQuery.parse(request.query);
      if (userId === undefined) {
        socket.close(1008, 'unauthenticated');
        return;
      }
      gateway.accept(socket, userId, device);
    },
  });
}
