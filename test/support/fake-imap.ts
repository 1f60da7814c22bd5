/**
 * A scripted IMAP server for misbehaviour a real Dovecot cannot produce: it greets, takes any LOGIN (or refuses it),
 * and then stops answering at a chosen command — silent, or trickling a byte now and then so that no socket
 * inactivity timeout ever fires. Until that command it answers as an empty IMAP4rev1 server. It counts connections
 * and LOGINs (reconnect-storm tests).
 */
import net from 'node:net';

export interface FakeImapOptions {
  /** The first command (upper case, e.g. 'SELECT', or a pattern of the whole line) left unanswered; the session then hangs. */
  hangOn?: string | RegExp;
  /** The mailbox holds one message (UID 1) of this declared RFC822.SIZE; else it is empty. */
  messageSize?: number;
  /** The source of that message (its BODY[]), when it is fetched. */
  source?: string;
  /** SELECT answers without UIDNEXT (RFC 3501 requires it; some servers leave it out). */
  noUidNext?: boolean;
  /** While hung, send one byte every this many ms (an unfinished line): the socket never goes quiet. */
  trickleMs?: number;
  /** Greet with this line and close the connection (e.g. `* BYE Too many connections`). */
  bye?: string;
  /** Answer LOGIN with this instead of OK. */
  login?: 'NO' | 'BAD';
}

export interface FakeImap {
  readonly host: string;
  readonly port: number;
  readonly connections: number;
  readonly logins: number;
  /** Sessions currently hung on `hangOn`. */
  readonly hung: number;
  /** The LOGIN names of those sessions. */
  readonly hungUsers: string[];
  close(): Promise<void>;
}

const CAPS = 'IMAP4rev1 AUTH=PLAIN';

export async function startFakeImap(opts: FakeImapOptions = {}): Promise<FakeImap> {
  const sockets = new Set<net.Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let connections = 0;
  let logins = 0;
  let hung = 0;
  const hungUsers: string[] = [];
  const server = net.createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    let buffered = '';
    let hanging = false;
    let user = '';
    const send = (line: string) => !socket.destroyed && socket.write(`${line}\r\n`);
    if (opts.bye) {
      send(opts.bye);
      socket.end();
      return;
    }
    send(`* OK [CAPABILITY ${CAPS}] fake server ready`);
    socket.on('data', (chunk: Buffer) => {
      if (hanging) return;
      buffered += chunk.toString('latin1');
      let nl: number;
      while (!hanging && (nl = buffered.indexOf('\r\n')) !== -1) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 2);
        const [tag = '*', rawCommand = '', ...args] = line.split(' ');
        const command = rawCommand.toUpperCase();
        if (typeof opts.hangOn === 'string' ? command === opts.hangOn : opts.hangOn?.test(line)) {
          hanging = true;
          hung++;
          hungUsers.push(user);
          socket.on('close', () => {
            hung--;
            hungUsers.splice(hungUsers.indexOf(user), 1);
          });
          if (opts.trickleMs) {
            socket.write('* OK ');
            const t = setInterval(() => !socket.destroyed && socket.write('.'), opts.trickleMs);
            timers.add(t);
            socket.on('close', () => clearInterval(t));
          }
          return;
        }
        if (command === 'CAPABILITY') {
          send(`* CAPABILITY ${CAPS}`);
          send(`${tag} OK CAPABILITY completed`);
        } else if (command === 'LOGIN' || command === 'AUTHENTICATE') {
          logins++;
          user = (args[0] ?? '').replace(/^"(.*)"$/, '$1');
          const refusal = opts.login === 'NO' ? 'NO [AUTHENTICATIONFAILED] Authentication failed.' : 'BAD Error in IMAP command LOGIN';
          send(opts.login ? `${tag} ${refusal}` : `${tag} OK [CAPABILITY ${CAPS}] Logged in`);
        } else if (command === 'SELECT' || command === 'EXAMINE') {
          send('* FLAGS (\\Seen \\Flagged \\Deleted)');
          send(`* ${opts.messageSize ? 1 : 0} EXISTS`);
          send('* OK [UIDVALIDITY 1] UIDs valid');
          if (!opts.noUidNext) send(`* OK [UIDNEXT ${opts.messageSize ? 2 : 1}] Predicted next UID`);
          send(`${tag} OK [READ-WRITE] ${command} completed`);
        } else if (command === 'STATUS') {
          send(`* STATUS ${args[0] ?? 'INBOX'} (MESSAGES ${opts.messageSize ? 1 : 0} UIDNEXT ${opts.messageSize ? 2 : 1} UIDVALIDITY 1)`);
          send(`${tag} OK STATUS completed`);
        } else if (command === 'UID' && args[0]?.toUpperCase() === 'SEARCH') {
          send(opts.messageSize ? '* SEARCH 1' : '* SEARCH');
          send(`${tag} OK SEARCH completed`);
        } else if ((command === 'UID' || command === 'FETCH') && (command === 'FETCH' || args[0]?.toUpperCase() === 'FETCH') && opts.messageSize) {
          if (/BODY\.PEEK\[\]/i.test(line)) {
            const source = opts.source ?? '';
            send(`* 1 FETCH (UID 1 BODY[] {${Buffer.byteLength(source)}}\r\n${source})`);
          } else send(`* 1 FETCH (UID 1 FLAGS () RFC822.SIZE ${opts.messageSize} INTERNALDATE "07-Dec-2026 10:00:00 +0000")`);
          send(`${tag} OK FETCH completed`);
        } else if (command === 'LOGOUT') {
          send('* BYE logging out');
          send(`${tag} OK LOGOUT completed`);
          socket.end();
        } else if (command === 'NOOP' || command === 'LIST' || command === 'LSUB') {
          send(`${tag} OK ${command} completed`);
        } else {
          send(`${tag} BAD unknown command`);
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    host: '127.0.0.1',
    port,
    get connections() {
      return connections;
    },
    get logins() {
      return logins;
    },
    get hung() {
      return hung;
    },
    get hungUsers() {
      return [...hungUsers];
    },
    async close() {
      for (const t of timers) clearInterval(t);
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
