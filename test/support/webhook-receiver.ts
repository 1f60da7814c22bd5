/**
 * A real HTTP webhook receiver on 127.0.0.1 that verifies every request with the `standardwebhooks` package. Its
 * behaviour is switchable: answer with a status, hold the response (a delivery in flight), or be down (closed port).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface ReceivedWebhook {
  headers: Record<string, string>;
  body: string;
  /** Parsed body when the signature verified, else undefined. */
  json: { event: string; id: string; timestamp: string; data: Record<string, unknown> } | undefined;
  verified: boolean;
  at: number;
}

export type Behaviour = { status: number; body?: string } | 'hold';

export interface WebhookReceiver {
  readonly url: string;
  readonly port: number;
  readonly received: ReceivedWebhook[];
  /** Sets the secret the signatures are verified with (the one returned by POST /api/webhooks). */
  secret: string | undefined;
  /** What the next requests get (default 200 "OK"); a function can decide per request. */
  behave(b: Behaviour | ((r: ReceivedWebhook, n: number) => Behaviour)): void;
  /** Answers every held request with 200. */
  release(): void;
  /** Closes the port (connection refused) / opens it again on the same port. */
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

export async function startReceiver(port = 0): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  const held: ServerResponse[] = [];
  let behaviour: Behaviour | ((r: ReceivedWebhook, n: number) => Behaviour) = { status: 200, body: 'OK' };
  let secret: string | undefined;
  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
    let json: ReceivedWebhook['json'];
    let verified = false;
    try {
      if (secret) {
        const wh = secret.startsWith('whsec_') ? new Webhook(secret) : new Webhook(secret, { format: 'raw' });
        json = wh.verify(body, headers) as ReceivedWebhook['json'];
        verified = true;
      }
    } catch {
      verified = false;
    }
    const r: ReceivedWebhook = { headers, body, json, verified, at: Date.now() };
    received.push(r);
    const b = typeof behaviour === 'function' ? behaviour(r, received.length) : behaviour;
    if (b === 'hold') {
      held.push(res);
      return;
    }
    res.writeHead(b.status, { 'content-type': 'text/plain' }).end(b.body ?? '');
  };
  let server: Server;
  const listen = (p: number) =>
    new Promise<number>((resolve, reject) => {
      server = createServer((req, res) => void handler(req, res));
      server.keepAliveTimeout = 1000;
      server.once('error', reject);
      server.listen(p, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
    });
  const closeServer = () =>
    new Promise<void>((resolve) => {
      for (const res of held.splice(0)) res.destroy();
      server.close(() => resolve());
      server.closeAllConnections();
    });
  const actualPort = await listen(port);
  return {
    url: `http://127.0.0.1:${actualPort}/hook`,
    port: actualPort,
    received,
    get secret() {
      return secret;
    },
    set secret(s) {
      secret = s;
    },
    behave: (b) => (behaviour = b),
    release: () => {
      for (const res of held.splice(0)) res.writeHead(200).end('OK');
    },
    down: closeServer,
    up: async () => {
      await listen(actualPort);
    },
    close: closeServer,
  };
}
