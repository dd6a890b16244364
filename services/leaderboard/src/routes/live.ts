import type { ServiceApp } from '@sysdesign/platform';
import type { Leaderboard } from '../leaderboard.js';
import type { LiveHub } from '../live.js';
import { boardParams } from './schemas.js';

export function registerLiveRoute(
  app: ServiceApp,
  options: { leaderboard: Leaderboard; hub: LiveHub },
): void {
  app.get(
    '/v1/boards/:board/live',
    {
      schema: {
        tags: ['reads'],
        summary: 'The live top 10 (server-sent events)',
        description:
          'An `event: top` with `{entries}` at once and whenever the top 10 changes (coalesced per poll interval). ' +
          'LEADERBOARD_ERR_BOARD_NOT_FOUND, LEADERBOARD_ERR_TOO_MANY_STREAMS.',
        params: boardParams,
      },
    },
    async (request, reply) => {
      const board = await options.leaderboard.board(request.params.board);
      options.hub.checkRoom();
      const raw = reply.raw;
      reply.hijack();
      raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      raw.write(': live top 10\n\n');
      const close = options.hub.open(board.id, { write: (chunk) => raw.write(chunk), end: () => raw.end() });
      request.raw.on('close', close);
    },
  );
}
