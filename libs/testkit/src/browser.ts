import { existsSync } from 'node:fs';

/**
 * Debian's headless Chromium, as every page test here drives it (through playwright-core, which
 * each service's tests depend on; testkit does not). The flags keep it off the network this
 * machine does not have: without them it retries Google's hosts at every start.
 */
export const CHROMIUM_PATH = '/usr/bin/chromium';

export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
];

/** Why a browser test cannot run here, or undefined when it can (CI installs the package). */
export function chromiumMissing(): string | undefined {
  return existsSync(CHROMIUM_PATH)
    ? undefined
    : `${CHROMIUM_PATH} is not installed (apt-get install chromium)`;
}
