import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { loggerOptions, prettyStreamFor } from '../src/logging.js';

/** A stand-in for stdout that keeps what is written to it. */
function output(isTTY: boolean) {
  const chunks: string[] = [];
  const stream = Object.assign(
    new Writable({
      write(chunk, _encoding, done) {
        chunks.push(String(chunk));
        done();
      },
    }),
    { isTTY },
  );
  return { stream, text: () => chunks.join('') };
}

describe('log output', () => {
  it('prints readable lines, not JSON, when stdout is a terminal', () => {
    const terminal = output(true);
    const pretty = prettyStreamFor(terminal.stream);
    expect(pretty).toBeDefined();
    pino(loggerOptions('info'), pretty!).info({ port: 3003 }, 'id-generator listening');
    const text = terminal.text();
    expect(text).toContain('id-generator listening');
    expect(text).toContain('port');
    expect(text).toContain('3003');
    expect(() => JSON.parse(text)).toThrow();
  });

  it('keeps JSON lines when stdout is not a terminal (files, pipes, log collectors)', () => {
    expect(prettyStreamFor(output(false).stream)).toBeUndefined();
  });
});
