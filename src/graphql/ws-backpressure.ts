/**
 * A WebSocket client that stops reading (its TCP receive window full) does not stop the server from sending: `ws`
 * queues every frame in memory, and graphql-ws keeps producing them — a pong for every `ping` message (echoing a
 * payload of up to WS_MAX_PAYLOAD_BYTES), a result for every operation, events from every subscription. Unsolicited
 * pong frames keep the keep-alive satisfied meanwhile. So a socket is dropped (terminated: a close frame would only
 * queue behind what the client does not read) when the messages waiting behind the one being written pass
 * `maxBytes`. The message being written is not counted: one large query result in transit to a client on a slow
 * network does not get it dropped when an event is sent meanwhile.
 */
import type { WebSocket } from 'ws';

type SendCallback = (err?: Error) => void;

/** What this needs of a `ws` WebSocket. */
export type OutputSocket = Pick<WebSocket, 'send' | 'terminate' | 'readyState' | 'OPEN'>;

/** Wraps `socket.send` so that a client that lets more than `maxBytes` pile up is disconnected; calls `onDrop` once. */
export function limitBufferedOutput(socket: OutputSocket, maxBytes: number, onDrop: (waiting: number) => void): void {
  const send = socket.send.bind(socket) as (data: unknown, options: object, cb?: SendCallback) => void;
  /** Sizes of the messages sent and not yet written out, oldest first (ws completes writes in order). */
  const inFlight: number[] = [];
  let inFlightBytes = 0;
  let dropped = false;
  socket.send = ((data: unknown, optionsOrCb?: object | SendCallback, cb?: SendCallback) => {
    const options = typeof optionsOrCb === 'function' ? {} : (optionsOrCb ?? {});
    const callback = typeof optionsOrCb === 'function' ? optionsOrCb : cb;
    const size = typeof data === 'string' ? Buffer.byteLength(data) : ((data as { byteLength?: number }).byteLength ?? 0);
    const waiting = inFlight.length === 0 ? 0 : inFlightBytes - inFlight[0]! + size;
    if (!dropped && waiting > maxBytes) {
      dropped = true;
      onDrop(waiting);
      socket.terminate();
    }
    // A dropped socket's messages, and writes cancelled because the socket went away, are discarded as sends on a
    // closed socket are (graphql-ws resolves those), not errors that graphql-ws would log as internal errors.
    if (dropped) return void callback?.();
    inFlight.push(size);
    inFlightBytes += size;
    send(data, options, (err) => {
      inFlightBytes -= inFlight.shift() ?? 0;
      callback?.(dropped || socket.readyState !== socket.OPEN ? undefined : err);
    });
  }) as WebSocket['send'];
}
