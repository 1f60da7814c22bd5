/** graphql-ws clients for tests: connect with API credentials, collect what a subscription delivers. */
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import type { Credentials } from './server.js';

export interface Collected<T = any> { // eslint-disable-line @typescript-eslint/no-explicit-any -- shapes asserted by tests
  readonly items: T[];
  readonly errors: unknown[];
  /** Resolves when the server completes the subscription or sends an error. */
  readonly ended: Promise<void>;
  stop(): void;
}

export function wsUrl(httpUrl: string): string {
  return `${httpUrl.replace(/^http/, 'ws')}/graphql`;
}

/** A WebSocket class that sends `headers` with its upgrade request (X-Forwarded-For, say). */
function withHeaders(headers: Record<string, string>) {
  return class extends WebSocket {
    constructor(url: string | URL | null, protocols?: string | string[]) {
      super(url!, protocols, { headers });
    }
  };
}

/** A connected client, or the close code (and reason) if the server refused the connection. */
export function connectWs(
  httpUrl: string,
  creds: Credentials,
  headers?: Record<string, string>,
): Promise<{ client: Client; outcome: number | 'connected'; reason?: string }> {
  return new Promise((resolve) => {
    const client = createClient({
      url: wsUrl(httpUrl),
      webSocketImpl: headers ? withHeaders(headers) : WebSocket,
      connectionParams: { apiKey: creds.key, apiSecret: creds.secret },
      retryAttempts: 0,
      lazy: false,
      // A refused or closed connection is reported through `closed` (the outcome), not console.error.
      onNonLazyError: () => undefined,
      on: {
        connected: () => resolve({ client, outcome: 'connected' }),
        closed: (e) => resolve({ client, outcome: (e as { code: number }).code, reason: (e as { reason?: string }).reason }),
      },
    });
  });
}

/** Subscribes and collects each `data[field]`; errors (GraphQL error results or a refused operation) go to `errors`. */
export function collect(client: Client, query: string, variables: Record<string, unknown> = {}): Collected {
  const items: unknown[] = [];
  const errors: unknown[] = [];
  let stop = () => undefined as void;
  const ended = new Promise<void>((resolve) => {
    stop = client.subscribe(
      { query, variables },
      {
        next: (r) => {
          if (r.errors) errors.push(...r.errors);
          const data = r.data as Record<string, unknown> | null | undefined;
          if (data) for (const v of Object.values(data)) if (v !== null) items.push(v);
        },
        error: (e) => {
          errors.push(...(Array.isArray(e) ? e : [e]));
          resolve();
        },
        complete: () => resolve(),
      },
    );
  });
  return { items, errors, ended, stop: () => stop() };
}
