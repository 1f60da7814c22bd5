/** SocketKeys' periodic re-check while the database hangs (fake auth service, fake timers). */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SocketKeys, type KeyedSocket } from '../../src/graphql/ws-keys.js';
import type { AuthService, Principal } from '../../src/modules/auth/index.js';

afterEach(() => vi.useRealTimers());

function socket(): KeyedSocket {
  return { readyState: 1, close: () => undefined, once: () => undefined };
}

describe('SocketKeys', () => {
  it('does not start a periodic re-check while the previous one still waits for the database', async () => {
    vi.useFakeTimers();
    let pending = 0;
    const auth = {
      onKeyChange: () => () => undefined,
      authenticate: () => {
        pending++;
        return new Promise<Principal>(() => undefined); // a database that hangs: never answers
      },
    } as unknown as AuthService;
    const keys = new SocketKeys({ auth, log: { warn: () => undefined } as never, inContext: (fn) => fn(), sweepMs: 1000 });
    const principal = { keyId: 1, permissions: ['read'], accountIds: null } as unknown as Principal;
    for (let i = 0; i < 3; i++) keys.add(socket(), { publicKey: 'ink_x', secret: 'ins_x' }, principal);
    await vi.advanceTimersByTimeAsync(60_000);
    // One sweep, stuck on its first socket; not sixty piled up behind it (each holding its list of sockets).
    expect(pending).toBe(1);
    keys.dispose();
  });
});
