/** The chat's expected failures; `errors.ts` maps them to problems and frames to error codes. */

export class ChannelNotFoundError extends Error {
  override name = 'ChannelNotFoundError';
  constructor(readonly channelId: string) {
    // The same answer whether the channel does not exist or the caller is not in it: ids are not probed.
    super(`channel ${channelId} does not exist or you are not a member`);
  }
}

export class ChannelFullError extends Error {
  override name = 'ChannelFullError';
  constructor(readonly membersMax: number) {
    super(`a group channel holds at most ${membersMax} members`);
  }
}

export class TooManyChannelsError extends Error {
  override name = 'TooManyChannelsError';
  constructor(readonly channelsMax: number) {
    super(`a user belongs to at most ${channelsMax} channels`);
  }
}

export class DirectChannelMembersError extends Error {
  override name = 'DirectChannelMembersError';
  constructor() {
    super('a direct channel has exactly its two users; create a group to add others');
  }
}

export class MessageNotFoundError extends Error {
  override name = 'MessageNotFoundError';
  constructor(
    readonly channelId: string,
    readonly seq: number,
  ) {
    super(`message ${seq} of channel ${channelId} does not exist`);
  }
}

export class NotAuthorError extends Error {
  override name = 'NotAuthorError';
  constructor() {
    super('only the author may edit or delete a message');
  }
}

export class MessageDeletedError extends Error {
  override name = 'MessageDeletedError';
  constructor() {
    super('the message was deleted');
  }
}

export class MessageTooLargeError extends Error {
  override name = 'MessageTooLargeError';
  constructor(readonly bytesMax: number) {
    super(`a message body is at most ${bytesMax} UTF-8 bytes`);
  }
}

export class InvalidTextError extends Error {
  override name = 'InvalidTextError';
  constructor(field: string) {
    super(`${field} holds a lone surrogate or a control character`);
  }
}

export class UserRateLimitedError extends Error {
  override name = 'UserRateLimitedError';
  constructor(readonly retryAfterMs: number) {
    super('too many messages: slow down');
  }
}

export class ClientIdReusedError extends Error {
  override name = 'ClientIdReusedError';
  constructor(readonly clientMsgId: string) {
    super(`client message id ${clientMsgId} was already used for a different message`);
  }
}
