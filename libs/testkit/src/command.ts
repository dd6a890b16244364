import { type ExecFileException, type ExecFileOptions, execFile } from 'node:child_process';

/**
 * A child command for a test helper, whose failure says why: its exit code or signal and the end
 * of both its outputs. Node's own error names only the command line and stderr, and pnpm and tsc
 * print their errors to stdout, so a failed `pnpm pack` used to report nothing but its arguments.
 */

const OUTPUT_TAIL_CHARACTERS = 4_000;
const MAX_BUFFER_BYTES = 64 * 1024 * 1024;

export class CommandFailedError extends Error {
  constructor(
    readonly commandLine: string,
    /** `exit code 1`, `signal SIGKILL`, `ENOENT`: how it ended. */
    readonly reason: string,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    super(
      [
        `${commandLine} failed (${reason})`,
        `--- stdout\n${tail(stdout)}`,
        `--- stderr\n${tail(stderr)}`,
      ].join('\n'),
    );
    this.name = 'CommandFailedError';
  }
}

/** Runs `command` without a shell; resolves with its stdout, rejects with a CommandFailedError. */
export function runCommand(
  command: string,
  args: readonly string[],
  options: Omit<ExecFileOptions, 'encoding'> = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { maxBuffer: MAX_BUFFER_BYTES, ...options, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (error === null) {
          resolve(stdout);
          return;
        }
        const commandLine = [command, ...args].join(' ');
        reject(new CommandFailedError(commandLine, reasonOf(error), stdout, stderr));
      },
    );
  });
}

function reasonOf(error: ExecFileException): string {
  if (error.signal) return `signal ${error.signal}`;
  if (typeof error.code === 'number') return `exit code ${error.code}`;
  return error.code ?? error.message;
}

function tail(output: string): string {
  const trimmed = output.trimEnd();
  if (trimmed.length <= OUTPUT_TAIL_CHARACTERS) return trimmed || '(empty)';
  return `...${trimmed.slice(-OUTPUT_TAIL_CHARACTERS)}`;
}
