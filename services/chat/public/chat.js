// The chat page: a client of the chat.v1 protocol (see the README). It keeps the highest seq seen
// per channel, drops repeats, acks what it shows, resumes every channel after a reconnect and
// resends unacked sends with their client message id (stored once by the server).

const HISTORY_ON_OPEN = 50;
const PING_MS = 25_000;
const TYPING_EVERY_MS = 2_000;
const TYPING_SHOWN_MS = 3_000;
const RECONNECT_MAX_MS = 10_000;

const $ = (id) => document.getElementById(id);
const state = {
  token: null,
  me: null,
  ws: null,
  live: false,
  channels: new Map(), // id -> { id, kind, name, peer, lastSeq, seen, unread, messages: Map<seq, message> }
  active: null,
  pending: new Map(), // clientMsgId -> { channelId, body }
  presence: new Map(), // userId -> online
  typing: new Map(), // userId -> timer (active channel only)
  reconnectMs: 500,
  lastTypingAt: 0,
  sent: 0,
};
const deviceId = sessionStorage.getItem('chat-device') ?? `web-${Math.random().toString(36).slice(2, 10)}`;
sessionStorage.setItem('chat-device', deviceId);

function showError(text) {
  $('error').textContent = text;
}

async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: {
      ...(state.token ? { authorization: `Bearer ${state.token}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(json.detail ?? json.title ?? `HTTP ${response.status}`);
  return json;
}

function send(frame) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(frame));
}

function channelLabel(channel) {
  if (channel.kind === 'group') return `# ${channel.name}`;
  return channel.peer ?? '(direct)';
}

function renderChannels() {
  const list = $('channels');
  list.replaceChildren(
    ...[...state.channels.values()].map((channel) => {
      const item = document.createElement('li');
      item.dataset.channel = channel.id;
      item.className = channel.id === state.active ? 'active' : '';
      if (channel.kind === 'direct' && channel.peer) {
        const dot = document.createElement('span');
        dot.className = state.presence.get(channel.peer) ? 'dot online' : 'dot';
        dot.dataset.user = channel.peer;
        item.append(dot, ' ');
      }
      const label = document.createElement('span');
      label.className = 'label';
      label.textContent = channelLabel(channel);
      item.append(label);
      if (channel.unread > 0 && channel.id !== state.active) {
        const badge = document.createElement('span');
        badge.className = 'unread';
        badge.textContent = String(channel.unread);
        item.append(' ', badge);
      }
      item.addEventListener('click', () => select(channel.id));
      return item;
    }),
  );
}

function messageItem(message) {
  const item = document.createElement('li');
  item.dataset.seq = String(message.seq);
  const sender = document.createElement('span');
  sender.className = 'sender';
  sender.textContent = message.senderId;
  const body = document.createElement('span');
  body.className = 'body';
  body.textContent = message.deletedAt ? '(deleted)' : message.body;
  item.append(sender, body);
  return item;
}

function renderMessages() {
  const list = $('messages');
  const channel = state.channels.get(state.active);
  if (!channel) {
    list.replaceChildren();
    return;
  }
  const items = [...channel.messages.values()].sort((a, b) => a.seq - b.seq).map(messageItem);
  for (const [clientMsgId, pending] of state.pending) {
    if (pending.channelId !== channel.id) continue;
    const item = messageItem({ seq: 0, senderId: state.me, body: pending.body });
    item.className = 'pending';
    item.dataset.client = clientMsgId;
    items.push(item);
  }
  list.replaceChildren(...items);
  list.scrollTop = list.scrollHeight;
}

function renderTyping() {
  const users = [...state.typing.keys()];
  $('typing').textContent = users.length ? `${users.join(', ')} typing…` : '';
}

function markRead(channel) {
  if (channel.seen > 0 && document.visibilityState !== 'hidden')
    send({ type: 'read', channelId: channel.id, seq: channel.seen });
  channel.unread = 0;
}

function select(channelId) {
  state.active = channelId;
  for (const timer of state.typing.values()) clearTimeout(timer);
  state.typing.clear();
  renderTyping();
  const channel = state.channels.get(channelId);
  if (channel) markRead(channel);
  $('body').disabled = false;
  $('composer').querySelector('button').disabled = false;
  renderChannels();
  renderMessages();
}

async function loadChannels() {
  const { channels } = await api('GET', '/v1/channels');
  for (const view of channels) {
    const known = state.channels.get(view.id);
    if (known) {
      known.lastSeq = Math.max(known.lastSeq, view.lastSeq);
      continue;
    }
    const channel = { ...view, peer: null, seen: 0, messages: new Map() };
    if (view.kind === 'direct') {
      const { members } = await api('GET', `/v1/channels/${encodeURIComponent(view.id)}/members?limit=2`);
      channel.peer = members.map((member) => member.userId).find((userId) => userId !== state.me) ?? null;
    }
    // A concurrent load (a `channel` frame beside a click) may have added it meanwhile.
    if (state.channels.has(view.id)) continue;
    state.channels.set(view.id, channel);
  }
  const peers = [...state.channels.values()].map((channel) => channel.peer).filter(Boolean);
  send({ type: 'presence.subscribe', userIds: [...new Set(peers)].slice(0, 200) });
  renderChannels();
}

function resume(channel, lastSeq) {
  const afterSeq = Math.max(channel.seen, lastSeq - HISTORY_ON_OPEN, 0);
  if (lastSeq > afterSeq) send({ type: 'resume', channelId: channel.id, afterSeq });
}

async function onHello(frame) {
  state.me = frame.userId;
  $('me').textContent = `as ${frame.userId}`;
  await loadChannels();
  for (const cursor of frame.channels) {
    const channel = state.channels.get(cursor.channelId);
    if (channel) resume(channel, cursor.lastSeq);
  }
  for (const [clientMsgId, pending] of state.pending) {
    send({ type: 'send', channelId: pending.channelId, clientMsgId, body: pending.body });
  }
  state.live = true;
  $('status').dataset.state = 'live';
  $('status').textContent = 'live';
}

function onDeliver(message) {
  const channel = state.channels.get(message.channelId);
  if (!channel || message.seq <= channel.seen) return;
  channel.seen = message.seq;
  channel.lastSeq = Math.max(channel.lastSeq, message.seq);
  channel.messages.set(message.seq, message);
  if (message.senderId === state.me) state.pending.delete(message.clientMsgId);
  send({ type: 'ack', channelId: channel.id, seq: message.seq });
  if (channel.id === state.active) {
    state.typing.delete(message.senderId);
    renderTyping();
    markRead(channel);
    renderMessages();
  } else if (message.senderId !== state.me) {
    channel.unread += 1;
  }
  renderChannels();
}

const handlers = {
  hello: (frame) => {
    onHello(frame).catch((error) => showError(error.message));
  },
  deliver: (frame) => onDeliver(frame.message),
  update: ({ message }) => {
    const channel = state.channels.get(message.channelId);
    if (!channel?.messages.has(message.seq)) return;
    channel.messages.set(message.seq, message);
    if (channel.id === state.active) renderMessages();
  },
  ack: () => {},
  resumed: () => {},
  pong: () => {},
  read: () => {},
  channel: (frame) => {
    if (frame.event === 'left') {
      state.channels.delete(frame.channelId);
      if (state.active === frame.channelId) state.active = null;
      renderChannels();
      renderMessages();
      return;
    }
    loadChannels()
      .then(() => {
        const channel = state.channels.get(frame.channelId);
        if (channel) resume(channel, channel.lastSeq);
      })
      .catch((error) => showError(error.message));
  },
  typing: (frame) => {
    if (frame.channelId !== state.active || frame.userId === state.me) return;
    clearTimeout(state.typing.get(frame.userId));
    state.typing.set(
      frame.userId,
      setTimeout(() => {
        state.typing.delete(frame.userId);
        renderTyping();
      }, TYPING_SHOWN_MS),
    );
    renderTyping();
  },
  presence: (frame) => {
    state.presence.set(frame.userId, frame.online);
    renderChannels();
  },
  error: (frame) => {
    showError(`${frame.code}: ${frame.detail}`);
    const pending = frame.ref === undefined ? undefined : state.pending.get(frame.ref);
    if (!pending) return;
    if (frame.retryAfterMs !== undefined) {
      setTimeout(
        () =>
          send({ type: 'send', channelId: pending.channelId, clientMsgId: frame.ref, body: pending.body }),
        frame.retryAfterMs,
      );
    } else {
      state.pending.delete(frame.ref);
      renderMessages();
    }
  },
};

let pinger = null;
function connect() {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(`${scheme}//${location.host}/v1/socket?device=${encodeURIComponent(deviceId)}`, [
    'chat.v1',
    `bearer.${state.token}`,
  ]);
  state.ws = ws;
  ws.addEventListener('open', () => {
    state.reconnectMs = 500;
    showError('');
  });
  ws.addEventListener('message', (event) => {
    let frame;
    try {
      frame = JSON.parse(event.data);
    } catch {
      return;
    }
    handlers[frame.type]?.(frame);
  });
  ws.addEventListener('close', (event) => {
    if (state.ws !== ws) return;
    state.live = false;
    clearInterval(pinger);
    $('status').dataset.state = 'offline';
    $('status').textContent = `offline (${event.code}), reconnecting`;
    setTimeout(connect, state.reconnectMs);
    state.reconnectMs = Math.min(state.reconnectMs * 2, RECONNECT_MAX_MS);
  });
  clearInterval(pinger);
  pinger = setInterval(() => send({ type: 'ping' }), PING_MS);
}

$('login').addEventListener('submit', async (event) => {
  event.preventDefault();
  try {
    const pasted = $('token').value.trim();
    state.token = pasted || (await api('POST', '/v1/demo/login', { userId: $('user').value.trim() })).token;
    if (state.ws) {
      const old = state.ws;
      state.ws = null;
      old.close(1000);
    }
    state.channels.clear();
    state.pending.clear();
    state.active = null;
    renderChannels();
    renderMessages();
    connect();
  } catch (error) {
    showError(`log in failed: ${error.message}`);
  }
});

$('direct').addEventListener('submit', async (event) => {
  event.preventDefault();
  try {
    const channel = await api('POST', '/v1/channels', { kind: 'direct', userId: $('peer').value.trim() });
    $('peer').value = '';
    await loadChannels();
    select(channel.id);
  } catch (error) {
    showError(error.message);
  }
});

$('group').addEventListener('submit', async (event) => {
  event.preventDefault();
  const members = $('group-members')
    .value.split(',')
    .map((member) => member.trim())
    .filter(Boolean);
  try {
    const channel = await api('POST', '/v1/channels', {
      kind: 'group',
      name: $('group-name').value.trim(),
      members,
    });
    $('group-name').value = '';
    $('group-members').value = '';
    await loadChannels();
    select(channel.id);
  } catch (error) {
    showError(error.message);
  }
});

$('composer').addEventListener('submit', (event) => {
  event.preventDefault();
  const body = $('body').value;
  if (!state.active || body.trim() === '') return;
  state.sent += 1;
  const clientMsgId = `${deviceId}-${Date.now().toString(36)}-${state.sent}`;
  state.pending.set(clientMsgId, { channelId: state.active, body });
  send({ type: 'send', channelId: state.active, clientMsgId, body });
  $('body').value = '';
  // The next keystroke announces typing again (the receiver cleared it on this message).
  state.lastTypingAt = 0;
  renderMessages();
});

$('body').addEventListener('input', () => {
  const now = Date.now();
  if (!state.active || now - state.lastTypingAt < TYPING_EVERY_MS) return;
  state.lastTypingAt = now;
  send({ type: 'typing', channelId: state.active });
});

document.addEventListener('visibilitychange', () => {
  const channel = state.channels.get(state.active);
  if (channel) markRead(channel);
});
