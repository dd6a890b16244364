import { defineProblems, type Problem } from '@sysdesign/platform';
import {
  ChannelFullError,
  ChannelNotFoundError,
  ClientIdReusedError,
  DirectChannelMembersError,
  InvalidTextError,
  MessageDeletedError,
  MessageNotFoundError,
  MessageTooLargeError,
  NotAuthorError,
  TooManyChannelsError,
  UserRateLimitedError,
} from './domain/errors.js';

/** The chat's stable error codes: problem+json `type`s over HTTP, `code`s of error frames over WebSocket. */
export const errors = defineProblems({
  CHAT_ERR_CHANNEL_NOT_FOUND: { status: 404, title: 'Channel not found' },
  CHAT_ERR_CHANNEL_FULL: { status: 409, title: 'Channel is full' },
  CHAT_ERR_TOO_MANY_CHANNELS: { status: 409, title: 'Too many channels' },
  CHAT_ERR_DIRECT_CHANNEL: { status: 409, title: 'Direct channels have exactly two members' },
  CHAT_ERR_MESSAGE_NOT_FOUND: { status: 404, title: 'Message not found' },
  CHAT_ERR_NOT_AUTHOR: { status: 403, title: 'Not the author of the message' },
  CHAT_ERR_MESSAGE_DELETED: { status: 409, title: 'Message was deleted' },
  CHAT_ERR_MESSAGE_TOO_LARGE: { status: 413, title: 'Message too large' },
  CHAT_ERR_INVALID_TEXT: { status: 400, title: 'Invalid text' },
  CHAT_ERR_RATE_LIMITED: { status: 429, title: 'Too many messages' },
  CHAT_ERR_CLIENT_ID_REUSED: { status: 409, title: 'Client message id reused for another message' },
  CHAT_ERR_TOO_MANY_CONNECTIONS: { status: 503, title: 'Too many connections' },
  CHAT_ERR_UPGRADE_REQUIRED: { status: 426, title: 'WebSocket upgrade required' },
  CHAT_ERR_BAD_CURSOR: { status: 400, title: 'Invalid cursor' },
  CHAT_ERR_DEMO_LOGIN_LOCAL_ONLY: { status: 403, title: 'The demo login answers this machine only' },
});

/** The domain's typed errors as problems; anything else goes to the platform's mapping. */
export function mapChatError(error: unknown): Problem | undefined {
  if (error instanceof ChannelNotFoundError) return errors.CHAT_ERR_CHANNEL_NOT_FOUND(error.message);
  if (error instanceof ChannelFullError)
    return errors.CHAT_ERR_CHANNEL_FULL(error.message, { membersMax: error.membersMax });
  if (error instanceof TooManyChannelsError)
    return errors.CHAT_ERR_TOO_MANY_CHANNELS(error.message, { channelsMax: error.channelsMax });
  if (error instanceof DirectChannelMembersError) return errors.CHAT_ERR_DIRECT_CHANNEL(error.message);
  if (error instanceof MessageNotFoundError) return errors.CHAT_ERR_MESSAGE_NOT_FOUND(error.message);
  if (error instanceof NotAuthorError) return errors.CHAT_ERR_NOT_AUTHOR(error.message);
  if (error instanceof MessageDeletedError) return errors.CHAT_ERR_MESSAGE_DELETED(error.message);
  if (error instanceof MessageTooLargeError)
    return errors.CHAT_ERR_MESSAGE_TOO_LARGE(error.message, { bytesMax: error.bytesMax });
  if (error instanceof InvalidTextError) return errors.CHAT_ERR_INVALID_TEXT(error.message);
  if (error instanceof UserRateLimitedError)
    return errors.CHAT_ERR_RATE_LIMITED(
      error.message,
      { retryAfterMs: error.retryAfterMs },
      { 'retry-after': String(Math.max(1, Math.ceil(error.retryAfterMs / 1_000))) },
    );
  if (error instanceof ClientIdReusedError) return errors.CHAT_ERR_CLIENT_ID_REUSED(error.message);
  return undefined;
}
