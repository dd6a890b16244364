import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import {
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingMessage,
  type RequestOptions,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import type { HostAllowlist } from '../domain/allowlist.js';

/**
 * One HTTP call to an allowlisted host, for HTTP-callback jobs and push workers. The name is
 * checked against the allowlist before anything happens; the addresses are checked inside the
 * socket's DNS lookup, so the connection goes to the address that was checked. Kept-alive
 * sockets are pooled per caller, never in Node's global agent: a socket another part of the
 * process opened was never checked under this allowlist.
 */

export interface HttpCall {
  url: string;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  headers?: Record<string, string>;
  body?: string;
}

export interface HttpCallLimits {
  timeoutMs: number;
  responseBytesMax: number;
  signal: AbortSignal;
}

export interface HttpCallResult {
  status: number;
  /** The response's first `responseBytesMax` bytes as text. */
  body: string;
}

function checkedLookup(allowlist: HostAllowlist): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, '', 0);
      const list = addresses as LookupAddress[];
      try {
        for (const entry of list) allowlist.checkAddress(hostname, entry.address);
      } catch (refusal) {
        return callback(refusal as NodeJS.ErrnoException, '', 0);
      }
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list);
      const first = list[0];
      if (!first) return callback(new Error(`${hostname} has no address`), '', 0);
      callback(null, first.address, first.family);
    });
  };
}

function readHead(response: IncomingMessage, bytesMax: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let kept = 0;
    response.on('data', (chunk: Buffer) => {
      if (kept >= bytesMax) return;
      const part = chunk.subarray(0, bytesMax - kept);
      chunks.push(part);
      kept += part.length;
    });
    response.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    response.on('error', reject);
  });
}

const SOCKETS_PER_HOST_MAX = 64;

export class AllowlistedHttp {
  private readonly http: HttpAgent;
  private readonly https: HttpsAgent;

  constructor(readonly allowlist: HostAllowlist) {
    const lookup = checkedLookup(allowlist);
    this.http = new HttpAgent({ keepAlive: true, maxSockets: SOCKETS_PER_HOST_MAX, lookup });
    this.https = new HttpsAgent({ keepAlive: true, maxSockets: SOCKETS_PER_HOST_MAX, lookup });
  }

  call(call: HttpCall, limits: HttpCallLimits): Promise<HttpCallResult> {
    return callAllowlisted(this.allowlist, { http: this.http, https: this.https }, call, limits);
  }

  close(): void {
    this.http.destroy();
    this.https.destroy();
  }
}

async function callAllowlisted(
  allowlist: HostAllowlist,
  agents: { http: HttpAgent; https: HttpsAgent },
  call: HttpCall,
  limits: HttpCallLimits,
): Promise<HttpCallResult> {
  const url = allowlist.checkUrl(call.url);
  const signal = AbortSignal.any([limits.signal, AbortSignal.timeout(limits.timeoutMs)]);
  const options: RequestOptions = {
    method: call.method,
    headers: {
      ...(call.headers ?? {}),
      ...(call.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    agent: url.protocol === 'https:' ? agents.https : agents.http,
    signal,
  };
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<HttpCallResult>((resolve, reject) => {
    const request = send(url, options, (response) => {
      readHead(response, limits.responseBytesMax)
        .then((body) => resolve({ status: response.statusCode ?? 0, body }))
        .catch(reject);
    });
    request.on('error', reject);
    request.end(call.body);
  });
}
