/**
 * A WebSocket client that stops reading (its TCP receive window full) does not stop the server from sending: `ws`
 * queues every frame in memory, and graphql-ws keeps producing them — a pong for every `ping` message (echoing a
 * payload of up to WS_MAX_PAYLOAD_BYTES), a result for every operation, events from every subscription. Unsolicited
 * pong frames keep the keep-alive satisfied meanwhile. So before each send, a socket whose unsent output already
 * exceeds `maxBytes` is dropped (terminated: a close frame would only queue behind what the client does not read).
 * One message larger than `maxBytes` still goes out to a client that keeps up.
 */
import type { WebSocket } from 'ws';

type SendCallback = (err?: Error) => void;

/** Wraps `socket.send` so that a client that lets more than `maxBytes` pile up is disconnected; calls `onDrop` once. */
export function limitBufferedOutput(socket: WebSocket, maxBytes: number, onDrop: (buffered: number) => void): void {
  const send = socket.send.bind(socket) as (data: unknown, options: object, cb?: SendCallback) => void;
  let dropped = false;
  socket.send = ((data: unknown, optionsOrCb?: object | SendCallback, cb?: SendCallback) => {
    const options = typeof optionsOrCb === 'function' ? {} : (optionsOrCb ?? {});
    const callback = typeof optionsOrCb === 'function' ? optionsOrCb : cb;
    if (!dropped && socket.bufferedAmount > maxBytes) {
      dropped = true;
      onDrop(socket.bufferedAmount);
      socket.terminate();
    }
    // A dropped socket's messages, and writes cancelled because the socket went away, are discarded as sends on a
    // closed socket are (graphql-ws resolves those), not errors that graphql-ws would log as internal errors.
    if (dropped) return void callback?.();
    send(data, options, (err) => callback?.(dropped || socket.readyState !== socket.OPEN ? undefined : err));
  }) as WebSocket['send'];
}
