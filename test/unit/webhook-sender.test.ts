/** WebhookSender against hostile local receivers (allow-listed 127.0.0.1): the outcome of one attempt. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UrlGuard } from '../../src/modules/webhooks/url-guard.js';
import { WebhookSender } from '../../src/modules/webhooks/webhook-sender.js';

let server: Server;
let base: string;
const sender = new WebhookSender(new UrlGuard(['127.0.0.1']), 600);
const secret = `whsec_${Buffer.alloc(32, 1).toString('base64')}`;

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    const status = Number(new URL(req.url!, 'http://x').searchParams.get('status') ?? 200);
    if (req.url!.startsWith('/hang')) return; // accepts, never answers
    // Answers at once, then trickles the body and never ends it.
    res.writeHead(status, { 'content-type': 'text/plain' });
    res.write('accepted;');
    const timer = setInterval(() => res.write('.'), 50);
    res.on('close', () => clearInterval(timer));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await sender.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const send = (path: string) => sender.send(`${base}${path}`, secret, { msgId: 'msg_1_x', body: '{}' });

describe('WebhookSender', () => {
  it('a 2xx whose body trickles past the timeout is a success: the status decides, the body is what came', async () => {
    const r = await send('/trickle');
    expect(r).toMatchObject({ ok: true, httpCode: 200, error: null });
    expect(r.responseBody).toMatch(/^accepted;/);
  });

  it('a non-2xx whose body trickles is a failure with its status, not a timeout', async () => {
    const r = await send('/trickle?status=503');
    expect(r).toMatchObject({ ok: false, httpCode: 503, error: 'HTTP 503' });
  });

  it('a receiver that never answers times out', async () => {
    expect(await send('/hang')).toMatchObject({ ok: false, httpCode: null, error: 'Timed out' });
  });
});
