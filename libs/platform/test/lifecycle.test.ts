import { describe, expect, it } from 'vitest';
import { Lifecycle } from '../src/lifecycle.js';

function recordingLogger() {
  const warnings: { fields: Record<string, unknown>; message: string }[] = [];
  return {
    warnings,
    warn(fields: object, message: string) {
      warnings.push({ fields: fields as Record<string, unknown>, message });
    },
  };
}

describe('Lifecycle', () => {
  it('closes what was opened in reverse order', async () => {
    const closed: string[] = [];
    const lifecycle = new Lifecycle(recordingLogger());
    for (const name of ['sql', 'redis', 'worker']) lifecycle.defer(name, () => void closed.push(name));
    expect(lifecycle.open).toEqual(['sql', 'redis', 'worker']);
    await lifecycle.closeAll();
    expect(closed).toEqual(['worker', 'redis', 'sql']);
    expect(lifecycle.open).toEqual([]);
  });

  it('logs a failing closer and still closes the ones before it', async () => {
    const closed: string[] = [];
    const logger = recordingLogger();
    const lifecycle = new Lifecycle(logger);
    lifecycle.defer('sql', async () => {
      closed.push('sql');
    });
    lifecycle.defer('bus', async () => {
      throw new Error('broker gone');
    });
    lifecycle.defer('worker', () => void closed.push('worker'));
    await expect(lifecycle.closeAll()).resolves.toBeUndefined();
    expect(closed).toEqual(['worker', 'sql']);
    expect(logger.warnings).toHaveLength(1);
    expect(logger.warnings[0]?.fields.resource).toBe('bus');
  });

  it('closes each thing once however often closeAll is called, even concurrently', async () => {
    let closes = 0;
    const lifecycle = new Lifecycle(recordingLogger());
    lifecycle.defer(
      'slow',
      () => new Promise<void>((resolve) => setTimeout(() => resolve(void closes++), 20)),
    );
    await Promise.all([lifecycle.closeAll(), lifecycle.closeAll()]);
    await lifecycle.closeAll();
    expect(closes).toBe(1);
  });

  it('refuses to defer once closing has begun, as that closer would never run', async () => {
    const lifecycle = new Lifecycle(recordingLogger());
    await lifecycle.closeAll();
    expect(() => lifecycle.defer('late', () => undefined)).toThrow(/already closing/);
  });
});
