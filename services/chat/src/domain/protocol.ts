import { z } from 'zod';

/**
 * The WebSocket protocol, version `chat.v1`: JSON text frames, each an object with a `type`.
 * Every client frame is validated here; one that fails gets an `error` frame (the socket stays
 * open), except where a close code below says otherwise.
 */

export const PROTOCOL = 'chat.v1';

/** Close codes (4000-4999 are the application's, RFC 6455 section 7.4.2). */
export const CloseCode = {
  /** The server is shutting down or the instance is draining: reconnect elsewhere. */
  goingAway: 1001,
  /** A binary frame: the protocol is JSON text only. */
  unsupportedData: 1003,
  /** A frame above FRAME_BYTES_MAX. */
  tooBig: 1009,
  /** The server failed to read what the socket needs (the store is down): reconnect later. */
  internalError: 1011,
  /** Kept sending over the frame rate after being warned. */
  rateLimited: 4003,
  /** Nothing received for IDLE_TIMEOUT_MS. */
  idle: 4004,
  /** Its unsent bytes passed SOCKET_BUFFER_BYTES_MAX: a slow consumer is dropped, never buffered without bound. */
  slowConsumer: 4008,
} as const;

const channelId = z.string().min(1).max(128);
const seq = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
/** A client's own id for a message, so a resend is recognised (a UUID fits). */
const clientMsgId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces');
const body = z.string().min(1);
const userId = z.string().min(1).max(256);

export const clientFrame = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('send'), channelId, clientMsgId, body }),
  /** The client has everything up to `seq` in the channel (its device cursor moves there). */
  z.strictObject({ type: z.literal('ack'), channelId, seq }),
  /** Send me everything after `afterSeq` (default: this device's last ack), then keep me live. */
  z.strictObject({ type: z.literal('resume'), channelId, afterSeq: seq.optional() }),
  z.strictObject({ type: z.literal('typing'), channelId }),
  /** The user has read up to `seq`: moves their read pointer (never backwards) and tells the channel. */
  z.strictObject({ type: z.literal('read'), channelId, seq }),
  z.strictObject({ type: z.literal('edit'), channelId, seq: seq.min(1), body }),
  z.strictObject({ type: z.literal('delete'), channelId, seq: seq.min(1) }),
  /** Push me these users' online/offline changes (replaces the previous list). */
  z.strictObject({ type: z.literal('presence.subscribe'), userIds: z.array(userId).max(10_000) }),
  /** A heartbeat; any frame counts as one, this is for a client with nothing else to say. */
  z.strictObject({ type: z.literal('ping') }),
]);

export type ClientFrame = z.infer<typeof clientFrame>;

/** A message as clients see it; `id` is the snowflake as a decimal string (it exceeds 2^53). */
export interface MessageView {
  id: string;
  channelId: string;
  seq: number;
  senderId: string;
  clientMsgId: string;
  body: string | null;
  createdAt: string;
  editedAt: string | null;
  deletedAt: string | null;
}

export type ServerFrame =
  | { type: 'hello'; userId: string; deviceId: string; connectionId: string; channels: ChannelCursor[] }
  | { type: 'ack'; clientMsgId: string; channelId: string; seq: number; id: string; duplicate: boolean }
  | { type: 'deliver'; message: MessageView }
  /** An edit or delete of a message already delivered (same seq; the client replaces it). */
  | { type: 'update'; message: MessageView }
  | { type: 'typing'; channelId: string; userId: string }
  | { type: 'read'; channelId: string; userId: string; seq: number }
  | { type: 'presence'; userId: string; online: boolean; lastActiveAt: string | null }
  | { type: 'channel'; channelId: string; event: 'joined' | 'left' }
  | { type: 'resumed'; channelId: string; throughSeq: number }
  | { type: 'pong' }
  | { type: 'error'; code: string; detail: string; ref?: string; retryAfterMs?: number };

export interface ChannelCursor {
  channelId: string;
  lastSeq: number;
  ackedSeq: number;
  readSeq: number;
}

/** Parses one text frame; answers the frame or why it was refused. */
export function parseClientFrame(
  text: string,
): { ok: true; frame: ClientFrame } | { ok: false; code: string; detail: string; ref?: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, code: 'CHAT_ERR_MALFORMED_FRAME', detail: 'the frame is not JSON' };
  }
  const parsed = clientFrame.safeParse(value);
  if (parsed.success) return { ok: true, frame: parsed.data };
  const ref = refOf(value);
  const issue = parsed.error.issues[0];
  const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  return {
    ok: false,
    code: 'CHAT_ERR_INVALID_FRAME',
    detail: `${where}${issue?.message ?? 'invalid frame'}`.slice(0, 300),
    ...(ref === undefined ? {} : { ref }),
  };
}

/** The client message id of a refused send, so the client can match the error to it. */
function refOf(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const ref = (value as Record<string, unknown>).clientMsgId;
  return typeof ref === 'string' && clientMsgId.safeParse(ref).success ? ref : undefined;
}
