/** Account fields from real-world and hostile clients: what is refused (400, naming the field) and what is stored. */
import { describe, expect, it } from 'vitest';
import { useMailEnv } from '../support/mail-account.js';

const t = useMailEnv({ SYNC_ENABLED: 'false', RATE_LIMIT_PER_MINUTE: '100000', RATE_LIMIT_PER_HOUR: '1000000' });

function accountBody(overrides: Record<string, unknown> = {}) {
  return { name: 'Input rules', email: 'input@example.com', host: t.dovecot.host, port: t.dovecot.port, username: 'input', password: 'secret', encryption: 'none', ...overrides };
}
const create = (overrides: Record<string, unknown>) => t.srv.api('/api/accounts', { method: 'POST', json: accountBody(overrides) });

describe('host', () => {
  it('a long invalid name is refused at once; what is not a host name or IP address is refused; IPv6 is stored bare', async () => {
    // The host rule was one regex whose nested quantifiers backtracked exponentially: 30 characters ending in an
    // invalid one held the event loop (every request of the server) for minutes.
    const started = Date.now();
    const slow = await create({ email: 'redos@example.com', host: `${'a'.repeat(30)}!` });
    expect(slow.status).toBe(400);
    expect(slow.body.error).toBe('host: must be a host name or IP address');
    expect(Date.now() - started).toBeLessThan(2000);
    for (const host of ['1.2.3.4:993', 'a..b', '999.999.999.999', '[::1', 'imap.example.com/', '-imap.example.com']) {
      const r = await create({ email: 'bad-host@example.com', host });
      expect(r.status, host).toBe(400);
      expect(r.body.error, host).toBe('host: must be a host name or IP address');
    }
    const ok = [['imap.example.com.', 'imap.example.com.'], ['xn--fiqs8s.cn', 'xn--fiqs8s.cn'], ['10.0.0.1', '10.0.0.1'], ['::1', '::1'], ['[2001:db8::1]', '2001:db8::1']];
    for (const [i, [host, stored]] of ok.entries()) {
      const r = await create({ email: `host-${i}@example.com`, host });
      expect(r.status, r.text).toBe(201);
      expect(r.body.data.host).toBe(stored);
    }
  });
});
