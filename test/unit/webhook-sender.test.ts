/** WebhookSender against hostile local receivers (allow-listed 127.0.0.1): the outcome of one attempt. */
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
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
    if (req.url!.startsWith('/redirect')) {
      res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' });
      return void res.end();
    }
    if (req.url!.startsWith('/huge')) {
      // Announces 3 GiB and sends as fast as the sender reads.
      res.writeHead(200, { 'content-length': String(3 * 1024 ** 3) });
      const chunk = Buffer.alloc(64 * 1024, 97);
      const pump = () => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once('drain', pump);
      };
      return pump();
    }
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

  it('a redirect (here to the metadata address) is a failure and is not followed', async () => {
    expect(await send('/redirect')).toMatchObject({ ok: false, httpCode: 302, error: 'HTTP 302 (redirects are not followed)' });
  });

  it('a 3 GiB answer: only the first 2 KiB are read, then the connection is dropped', async () => {
    const r = await send('/huge');
    expect(r).toMatchObject({ ok: true, httpCode: 200 });
    expect(r.responseBody).toHaveLength(2048);
  });

  it('a receiver that never answers times out', async () => {
    expect(await send('/hang')).toMatchObject({ ok: false, httpCode: null, error: 'Timed out' });
  });

  it('a receiver that trickles its status line and headers a byte at a time is cut at the attempt deadline', async () => {
    // Raw TCP: every byte resets an idle timer (undici's headersTimeout is 300 s), so only a total deadline ends it.
    const sockets = new Set<Socket>();
    const tcp = createTcpServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
      const bytes = Buffer.from(`HTTP/1.1 200 OK\r\n${'x-pad: a\r\n'.repeat(1000)}\r\n`);
      let i = 0;
      const timer = setInterval(() => (i < bytes.length ? socket.write(bytes.subarray(i, ++i)) : undefined), 20);
      socket.on('close', () => clearInterval(timer));
    });
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    try {
      const r = await sender.send(`http://127.0.0.1:${(tcp.address() as AddressInfo).port}/`, secret, { msgId: 'msg_1_x', body: '{}' });
      expect(r).toMatchObject({ ok: false, httpCode: null, error: 'Timed out' });
      expect(r.latencyMs).toBeLessThan(600 + 400);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => tcp.close(resolve));
    }
  });

  it('checks the address at connect time: a host that resolves to loopback now (DNS rebinding after creation) is refused, nothing sent', async () => {
    let hits = 0;
    const counting = createServer((_req, res) => {
      hits++;
      res.end('ok');
    });
    await new Promise<void>((resolve) => counting.listen(0, '127.0.0.1', resolve));
    const strict = new WebhookSender(new UrlGuard([]), 600);
    try {
      // A name (no IP literal to catch in the URL), so only the connect-time lookup can refuse it.
      const r = await strict.send(`https://localhost:${(counting.address() as AddressInfo).port}/`, secret, { msgId: 'msg_1_x', body: '{}' });
      expect(r).toMatchObject({ ok: false, httpCode: null, error: expect.stringMatching(/^Refused: .*loopback/) });
      expect(hits).toBe(0);
    } finally {
      await strict.close();
      await new Promise((resolve) => counting.close(resolve));
    }
  });
});
