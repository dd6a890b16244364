import { LATENCY_BUCKETS_SECONDS, type ServiceMetrics } from '@sysdesign/platform';

/** The chat's series, beside the platform's HTTP and process metrics. */
export function createChatMetrics(metrics: ServiceMetrics) {
  return {
    connections: metrics.gauge('chat_connections', 'Open WebSockets on this instance'),
    connectionsOpened: metrics.counter('chat_connections_opened_total', 'WebSockets accepted'),
    closes: metrics.counter('chat_connection_closes_total', 'WebSockets closed, by close code', ['code']),
    serverCloses: metrics.counter(
      'chat_server_closes_total',
      'WebSockets the server closed, by its close code (4008 slow consumer, 4003 rate, 4004 idle)',
      ['code'],
    ),
    messages: metrics.counter('chat_messages_total', 'Messages sent, stored or recognised as a resend', [
      'result',
    ]),
    delivered: metrics.counter('chat_messages_delivered_total', 'Messages written to sockets', ['path']),
    deliveryLatency: metrics.histogram(
      'chat_delivery_latency_seconds',
      'From a message being stored to it being written to a recipient socket',
      [],
      LATENCY_BUCKETS_SECONDS,
    ),
    resumes: metrics.counter('chat_resumes_total', 'Resume requests served'),
    gapFills: metrics.counter('chat_gap_fills_total', 'Sequence gaps filled from the store'),
    framesRejected: metrics.counter('chat_frames_rejected_total', 'Client frames answered with an error', [
      'code',
    ]),
    presenceFanout: metrics.counter('chat_presence_fanout_total', 'Presence changes published'),
    notifications: metrics.counter(
      'chat_notifications_total',
      'Push notifications queued for offline members',
    ),
    pushes: metrics.counter('chat_pushes_total', 'Push notifications handed to the push sender'),
    purged: metrics.counter('chat_messages_purged_total', 'Messages deleted by retention'),
  };
}

export type ChatMetrics = ReturnType<typeof createChatMetrics>;
