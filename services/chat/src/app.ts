import type { ServiceApp, TokenAuthority } from '@sysdesign/platform';
import type { Chat } from './chat.js';
import type { Gateway } from './gateway/gateway.js';
import { registerChannelRoutes } from './routes/channels.js';
import { registerMessageRoutes } from './routes/messages.js';
import { registerPage } from './routes/page.js';
import { registerSocketRoute } from './routes/socket.js';
import type { PresenceStore } from './store/presence.js';

export interface AppDeps {
  chat: Chat;
  gateway: Gateway;
  presence: PresenceStore;
  authority: TokenAuthority;
  groupMembersMax: number;
  channelsPerUserMax: number;
  pageMax: number;
  messageBytesMax: number;
  frameBytesMax: number;
  /** Serve `POST /v1/demo/login` (embedded mode only). */
  demoLogin: boolean;
  nowMs: () => number;
}

/** The HTTP and WebSocket app over ready-made parts; `service.ts` makes the parts from configuration. */
export async function registerApp(app: ServiceApp, deps: AppDeps): Promise<ServiceApp> {
  await registerSocketRoute(app, {
    gateway: deps.gateway,
    authority: deps.authority,
    frameBytesMax: deps.frameBytesMax,
  });
  registerChannelRoutes(app, deps);
  registerMessageRoutes(app, deps);
  registerPage(app, { authority: deps.authority, demoLogin: deps.demoLogin });
  return app;
}
