/**
 * A TCP proxy on loopback whose open connections can be made silent: nothing crosses them any more, yet neither side
 * sees a reset or a close — how long-lived IMAP connections die in the wild (a NAT or firewall forgetting them). New
 * connections are forwarded as usual. It also keeps what clients sent (the IMAP commands, for tests that check which
 * commands a sync used). It can also cut everything, as a server restart does: open connections reset, new ones
 * closed at once, until it is restored.
 */
import net from 'node:net';

export interface SilenceableProxy {
  readonly host: string;
  readonly port: number;
  /** Stops forwarding on every open connection (they stay open); returns how many there were. */
  silenceOpen(): number;
  /** Resets every open connection and closes new ones at once, until `restore()`. */
  cut(): void;
  restore(): void;
  /** Everything clients have sent through the proxy so far, as latin1 text. */
  sent(): string;
  /** STATUS commands answered NO (see `refuseStatusOfSelected`). */
  readonly refused: number;
  close(): Promise<void>;
}

/**
 * `refuseStatusOfSelected`: the proxy answers `NO` itself to a STATUS of the mailbox the connection has selected, as
 * some servers do (RFC 3501 6.3.10: STATUS SHOULD NOT be used on it); `refused` counts them. Client lines are then
 * forwarded line by line (fine for tests: no literals). `delayMs`: every chunk crosses this much later, each way (a
 * distant server: a round trip costs twice as much).
 */
export async function startProxy(target: { host: string; port: number }, opts: { refuseStatusOfSelected?: boolean; delayMs?: number } = {}): Promise<SilenceableProxy> {
  const open = new Set<{ client: net.Socket; upstream: net.Socket }>();
  const silenced = new Set<net.Socket>();
  const sent: Buffer[] = [];
  let refused = 0;
  let isCut = false;
  const server = net.createServer((client) => {
    if (isCut) {
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect(target.port, target.host);
    const pair = { client, upstream };
    open.add(pair);
    client.on('data', (chunk: Buffer) => sent.push(chunk));
    if (opts.refuseStatusOfSelected) {
      let selected: string | null = null;
      let partial = '';
      client.on('data', (chunk: Buffer) => {
        const lines = (partial + chunk.toString('latin1')).split('\r\n');
        partial = lines.pop() ?? '';
        for (const line of lines) {
          const [tag, command = '', ...rest] = line.split(' ');
          const mailbox = rest.join(' ').split(' (')[0]!.replace(/^"(.*)"$/, '$1');
          if (/^(SELECT|EXAMINE)$/i.test(command)) selected = mailbox;
          if (/^STATUS$/i.test(command) && mailbox === selected) {
            refused++;
            client.write(`${tag} NO [CLIENTBUG] STATUS on the selected mailbox is not supported\r\n`);
          } else upstream.write(`${line}\r\n`, 'latin1');
        }
      });
    } else if (opts.delayMs) {
      const delayed = (from: net.Socket, to: net.Socket) => from.on('data', (chunk: Buffer) => setTimeout(() => !to.destroyed && to.write(chunk), opts.delayMs));
      delayed(client, upstream);
      delayed(upstream, client);
    } else client.pipe(upstream);
    if (!opts.delayMs) upstream.pipe(client);
    const end = () => {
      open.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    for (const s of [client, upstream]) {
      s.on('error', end);
      s.on('close', end);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    host: '127.0.0.1',
    port,
    silenceOpen() {
      const n = open.size;
      for (const { client, upstream } of open) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
        silenced.add(client).add(upstream);
      }
      open.clear();
      return n;
    },
    cut() {
      isCut = true;
      for (const { client, upstream } of open) {
        client.resetAndDestroy();
        upstream.destroy();
      }
      open.clear();
    },
    restore() {
      isCut = false;
    },
    sent: () => Buffer.concat(sent).toString('latin1'),
    get refused() {
      return refused;
    },
    async close() {
      for (const s of silenced) s.destroy();
      for (const { client, upstream } of open) {
        client.destroy();
        upstream.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A TCP server on 127.0.0.1 that accepts connections and never says anything (an IMAP server that never greets). */
export async function startSilentServer(): Promise<{ port: number; close(): void }> {
  const server = net.createServer(() => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as net.AddressInfo).port, close: () => server.close() };
}
