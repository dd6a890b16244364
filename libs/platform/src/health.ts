import type { FastifyInstance } from 'fastify';

/**
 * `/healthz` says the process is alive; `/readyz` says its backends answer. Each backend adds a
 * readiness check; a check that does not answer within its timeout counts as failed, so a hung
 * backend makes the service unready instead of hanging the probe.
 */

export type ReadinessCheck = () => Promise<void> | void;

export const READINESS_TIMEOUT_MS = 2_000;

export interface CheckResult {
  ok: boolean;
  latencyMs: number;
  error?: string;
}

export class Readiness {
  private readonly checks = new Map<string, ReadinessCheck>();

  add(name: string, check: ReadinessCheck): void {
    if (this.checks.has(name)) throw new Error(`readiness check ${name} registered twice`);
    this.checks.set(name, check);
  }

  async run(
    timeoutMs = READINESS_TIMEOUT_MS,
  ): Promise<{ ready: boolean; checks: Record<string, CheckResult> }> {
    const entries = [...this.checks.entries()];
    const results = await Promise.all(entries.map(([, check]) => runCheck(check, timeoutMs)));
    const checks: Record<string, CheckResult> = {};
    entries.forEach(([name], index) => {
      checks[name] = results[index]!;
    });
    return { ready: results.every((result) => result.ok), checks };
  }
}

async function runCheck(check: ReadinessCheck, timeoutMs: number): Promise<CheckResult> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      Promise.resolve().then(check),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { ok: true, latencyMs: Math.round(performance.now() - started) };
  } catch (error) {
    return { ok: false, latencyMs: Math.round(performance.now() - started), error: (error as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

export function installHealthRoutes(app: FastifyInstance, readiness: Readiness): void {
  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    const { ready, checks } = await readiness.run();
    reply.code(ready ? 200 : 503);
    return { status: ready ? 'ready' : 'not-ready', checks };
  });
}
