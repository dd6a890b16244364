/**
 * Asks every listed service how it is: `/healthz` (alive) and `/readyz` (backends reachable),
 * all at once, each bounded by a timeout, so one hung service cannot stall the page.
 */

export interface ListedService {
  name: string;
  url: string;
  /** Set when the launcher could not start the service at all. */
  startError?: string;
}

export type ServiceState = 'ready' | 'not-ready' | 'down' | 'failed-to-start';

export interface ServiceStatus {
  name: string;
  url: string;
  docsUrl: string;
  state: ServiceState;
  detail?: string;
  latencyMs?: number;
}

async function fetchStatus(url: string, timeoutMs: number): Promise<{ status: number; body: unknown }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // A non-JSON answer is shown as text.
  }
  return { status: response.status, body };
}

function failingChecks(body: unknown): string | undefined {
  const checks = (body as { checks?: Record<string, { ok: boolean; error?: string }> })?.checks;
  if (!checks) return undefined;
  const failing = Object.entries(checks)
    .filter(([, check]) => !check.ok)
    .map(([name, check]) => `${name}: ${check.error ?? 'failing'}`);
  return failing.length > 0 ? failing.join('; ') : undefined;
}

export async function statusOf(service: ListedService, timeoutMs: number): Promise<ServiceStatus> {
  const base = { name: service.name, url: service.url, docsUrl: `${service.url}/docs` };
  if (service.startError) return { ...base, state: 'failed-to-start', detail: service.startError };
  const started = performance.now();
  try {
    const ready = await fetchStatus(`${service.url}/readyz`, timeoutMs);
    const latencyMs = Math.round(performance.now() - started);
    if (ready.status === 200) return { ...base, state: 'ready', latencyMs };
    const detail = failingChecks(ready.body) ?? `readyz answered ${ready.status}`;
    return { ...base, state: 'not-ready', detail, latencyMs };
  } catch (error) {
    return { ...base, state: 'down', detail: (error as Error).message };
  }
}

export function statusesOf(services: ListedService[], timeoutMs: number): Promise<ServiceStatus[]> {
  return Promise.all(services.map((service) => statusOf(service, timeoutMs)));
}
