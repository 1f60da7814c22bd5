/**
 * One signed HTTP attempt to a webhook URL, shared by the delivery worker and the synchronous test endpoint.
 * Standard Webhooks signing (the `standardwebhooks` package): `webhook-id`, `webhook-timestamp` and
 * `webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>`. Connections go through an undici Agent whose
 * `lookup` is the URL guard's (vetted addresses only); redirects are never followed; one timeout covers connect,
 * headers and reading (at most RESPONSE_BODY_LIMIT bytes of) the body — once the status has arrived it decides the
 * outcome, and a body still incomplete at the timeout is only logged short.
 */
import { randomBytes } from 'node:crypto';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { Agent, fetch } from 'undici';
import { UrlRefusedError, type UrlGuard } from './url-guard.js';

export const RESPONSE_BODY_LIMIT = 2048;
const USER_AGENT = 'Incoming-Webhooks/1';

/** A new secret in the Standard Webhooks format: `whsec_` + base64 of 32 random bytes. */
export function generateSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/** `whsec_…` secrets are base64 keys (Standard Webhooks); any other secret is used as raw UTF-8 bytes. */
export function signer(secret: string): StandardWebhook {
  return secret.startsWith('whsec_') ? new StandardWebhook(secret) : new StandardWebhook(new TextEncoder().encode(secret), { format: 'raw' });
}

export interface SignedMessage {
  /** `webhook-id`: the same for every attempt of one (webhook, event). */
  msgId: string;
  body: string;
}

export interface AttemptResult {
  ok: boolean;
  httpCode: number | null;
  latencyMs: number;
  error: string | null;
  /** The first RESPONSE_BODY_LIMIT bytes of the response body (UTF-8, lossy). */
  responseBody: string | null;
}

export class WebhookSender {
  private readonly agent: Agent;

  constructor(private readonly guard: UrlGuard, private readonly timeoutMs: number) {
    this.agent = new Agent({ connect: { lookup: guard.lookup, timeout: timeoutMs }, keepAliveTimeout: 30_000 });
  }

  async send(url: string, secret: string, message: SignedMessage): Promise<AttemptResult> {
    const started = performance.now();
    const done = (r: Omit<AttemptResult, 'latencyMs'>): AttemptResult => ({ ...r, latencyMs: Math.round(performance.now() - started) });
    try {
      this.guard.parse(url); // scheme and IP literals (a literal never reaches `lookup`)
      const timestamp = new Date();
      const signature = signer(secret).sign(message.msgId, timestamp, message.body);
      const res = await fetch(url, {
        method: 'POST',
        body: message.body,
        redirect: 'manual',
        dispatcher: this.agent,
        signal: AbortSignal.timeout(this.timeoutMs),
        headers: {
          'content-type': 'application/json',
          'user-agent': USER_AGENT,
          'webhook-id': message.msgId,
          'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
          'webhook-signature': signature,
        },
      });
      const responseBody = await readLimited(res.body);
      const ok = res.status >= 200 && res.status < 300;
      const error = ok ? null : res.status >= 300 && res.status < 400 ? `HTTP ${res.status} (redirects are not followed)` : `HTTP ${res.status}`;
      return done({ ok, httpCode: res.status, error, responseBody });
    } catch (err) {
      return done({ ok: false, httpCode: null, error: describe(err), responseBody: null });
    }
  }

  async close(): Promise<void> {
    await this.agent.close().catch(() => undefined);
  }
}

async function readLimited(body: ReadableStream<Uint8Array> | null): Promise<string | null> {
  if (!body) return null;
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < RESPONSE_BODY_LIMIT) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } catch {
    // The attempt's timeout (or the connection) ended the body early. The status line already decided the outcome
    // (Standard Webhooks: a 2xx is a success): a receiver that accepted the event and then trickles its body must not
    // be retried — a duplicate — and counted towards disabling it. What came is kept for the log.
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).subarray(0, RESPONSE_BODY_LIMIT).toString('utf8');
}

/** A readable reason for a failed attempt (fetch wraps the socket error in `cause`). */
function describe(err: unknown): string {
  if (err instanceof UrlRefusedError) return `Refused: ${err.message}`;
  const e = err as Error & { cause?: Error & { code?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return 'Timed out';
  const cause = e?.cause;
  if (cause instanceof UrlRefusedError || cause?.code === 'EWEBHOOKREFUSED') return `Refused: ${cause.message}`;
  if (cause?.code) return `${cause.code}: ${cause.message}`;
  return e?.message ?? String(err);
}
