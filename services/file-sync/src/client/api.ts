import type { BlockRef } from '../domain/blocks.js';

/** The HTTP API as the sync client uses it. Every call has a timeout; a problem answer throws ApiError. */

export interface RemoteFile {
  path: string;
  revision: { id: string; contentId: string; size: number };
}

export interface CommitAnswer {
  path: string;
  revision: { id: string; contentId: string; size: number };
  replayed: boolean;
  conflict?: { id: string; path: string; headRevision: string };
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    detail: string,
  ) {
    super(`${status} ${code ?? ''}: ${detail}`);
  }
}

const REQUEST_TIMEOUT_MS = 60_000;

export class SyncApi {
  constructor(
    private readonly server: string,
    private readonly token: string,
  ) {}

  private async call(path: string, init: RequestInit & { timeoutMs?: number } = {}): Promise<Response> {
    const response = await fetch(new URL(path, this.server), {
      ...init,
      headers: { authorization: `Bearer ${this.token}`, ...(init.headers ?? {}) },
      signal: init.signal ?? AbortSignal.timeout(init.timeoutMs ?? REQUEST_TIMEOUT_MS),
    });
    if (response.ok) return response;
    const text = await response.text();
    let code: string | undefined;
    let detail = text;
    try {
      const problem = JSON.parse(text) as { code?: string; detail?: string };
      code = problem.code;
      detail = problem.detail ?? text;
    } catch {
      // Not problem+json (a proxy's page): the text is the detail.
    }
    throw new ApiError(response.status, code, detail);
  }

  private async json<T>(path: string, init: RequestInit & { timeoutMs?: number } = {}): Promise<T> {
    return (await this.call(path, init)).json() as Promise<T>;
  }

  private post<T>(path: string, body: unknown): Promise<T> {
    return this.json<T>(path, {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json' },
    });
  }

  async missing(hashes: string[]): Promise<Set<string>> {
    if (hashes.length === 0) return new Set();
    return new Set((await this.post<{ missing: string[] }>('/v1/blocks/missing', { hashes })).missing);
  }

  async putBlock(hash: string, bytes: Uint8Array): Promise<void> {
    await this.call(`/v1/blocks/${hash}`, {
      method: 'PUT',
      body: bytes,
      headers: { 'content-type': 'application/octet-stream' },
    });
  }

  async getBlock(hash: string): Promise<Uint8Array> {
    return new Uint8Array(await (await this.call(`/v1/blocks/${hash}`)).arrayBuffer());
  }

  commit(
    path: string,
    parentRevision: string | null,
    blocks: BlockRef[],
    device: string,
  ): Promise<CommitAnswer> {
    return this.post('/v1/commit', { path, parentRevision, blocks, device });
  }

  async deleteFile(path: string, parentRevision: string): Promise<void> {
    await this.call(`/v1/files?${new URLSearchParams({ path, parent: parentRevision })}`, {
      method: 'DELETE',
    });
  }

  async blocksOf(path: string, revision: string): Promise<BlockRef[]> {
    const meta = await this.json<{ blocks: BlockRef[] }>(
      `/v1/files/metadata?${new URLSearchParams({ path, revision })}`,
    );
    return meta.blocks;
  }

  /** Every live file, page by page. */
  async listAll(): Promise<Map<string, RemoteFile>> {
    const files = new Map<string, RemoteFile>();
    let cursor: string | undefined;
    do {
      const query = new URLSearchParams({ limit: '1000', ...(cursor ? { cursor } : {}) });
      const page = await this.json<{ files: RemoteFile[]; nextCursor?: string }>(`/v1/files?${query}`);
      for (const file of page.files) files.set(file.path, file);
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    return files;
  }

  async latestCursor(): Promise<string> {
    return (await this.json<{ cursor: string }>('/v1/changes/latest')).cursor;
  }

  /** True when something changed after `cursor`; false after `timeoutSeconds` (or when `signal` aborts). */
  async longpoll(cursor: string, timeoutSeconds: number, signal: AbortSignal): Promise<boolean> {
    const answer = await this.json<{ changes: boolean }>(
      `/v1/changes/longpoll?${new URLSearchParams({ cursor, timeoutSeconds: String(timeoutSeconds) })}`,
      { signal: AbortSignal.any([signal, AbortSignal.timeout((timeoutSeconds + 30) * 1000)]) },
    );
    return answer.changes;
  }
}
