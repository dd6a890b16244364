import { userOf } from '@sysdesign/platform';
import type { Answer, Caller } from '../ledger.js';
import { OPERATOR_SCOPE } from './schemas.js';

type Request = Parameters<typeof userOf>[0];

/** The slice of a reply these helpers set. */
interface Reply {
  code(status: number): unknown;
  header(name: string, value: string): unknown;
}

/** The signed-in caller of a request that passed `requireUser`. */
export function callerOf(request: Request): Caller {
  const user = userOf(request);
  return { id: user.id, operator: user.scopes.includes(OPERATOR_SCOPE), requestId: request.id };
}

/** 201 with the body; a replayed Idempotency-Key answer says so in a header. */
export function created<Body>(reply: Reply, answer: Answer<Body>): Body {
  reply.code(201);
  if (answer.replayed) reply.header('idempotent-replayed', 'true');
  return answer.body;
}
