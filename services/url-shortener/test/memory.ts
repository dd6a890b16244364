import { type ClickStoreOptions, MemoryClickStore } from '../src/store/click-store.js';
import { MemoryLinkStore } from '../src/store/link-store.js';

/** The memory link and click stores, wired so that deleting a link drops its counters. */
export function memoryStores(
  nowMs: () => number = Date.now,
  options?: ClickStoreOptions,
): {
  links: MemoryLinkStore;
  clicks: MemoryClickStore;
} {
  const links = new MemoryLinkStore();
  const clicks = new MemoryClickStore((code) => links.isLive(code), nowMs, options);
  links.onDelete = (code) => clicks.forget(code);
  return { links, clicks };
}
