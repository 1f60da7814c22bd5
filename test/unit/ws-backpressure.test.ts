/** limitBufferedOutput with a socket whose writes complete when the test says so. */
import { describe, expect, it } from 'vitest';
import { limitBufferedOutput, type OutputSocket } from '../../src/graphql/ws-backpressure.js';

function fakeSocket() {
  const writes: (() => void)[] = [];
  const socket = {
    OPEN: 1 as const,
    readyState: 1,
    terminated: false,
    send(_data: unknown, _options: object, cb?: (err?: Error) => void) {
      writes.push(() => cb?.());
    },
    terminate() {
      this.terminated = true;
      this.readyState = 3;
    },
  };
  return { socket, complete: () => writes.shift()?.() };
}

const send = (s: OutputSocket, bytes: number) => new Promise<void>((resolve) => s.send('x'.repeat(bytes), () => resolve()));

describe('limitBufferedOutput', () => {
  it('counts what waits behind the message being written, not that message', () => {
    const { socket, complete } = fakeSocket();
    const drops: number[] = [];
    limitBufferedOutput(socket as unknown as OutputSocket, 100, (n) => drops.push(n));
    void send(socket as unknown as OutputSocket, 10_000); // a large result in transit
    void send(socket as unknown as OutputSocket, 60);
    expect(socket.terminated).toBe(false);
    complete(); // the large one is out; the 60 bytes are now being written
    void send(socket as unknown as OutputSocket, 90);
    expect(socket.terminated).toBe(false);
    void send(socket as unknown as OutputSocket, 20); // 90 + 20 wait behind the 60
    expect(socket.terminated).toBe(true);
    expect(drops).toEqual([110]);
  });

  it('answers sends after the drop as sends on a closed socket (no error), once', async () => {
    const { socket } = fakeSocket();
    const drops: number[] = [];
    limitBufferedOutput(socket as unknown as OutputSocket, 10, (n) => drops.push(n));
    void send(socket as unknown as OutputSocket, 5);
    await send(socket as unknown as OutputSocket, 50);
    await send(socket as unknown as OutputSocket, 50);
    expect(drops).toHaveLength(1);
  });
});
