/**
 * A private Dovecot IMAP server for tests: loopback only, no TLS, plaintext LOGIN, passwd-file accounts, Maildir.
 * Settings, root vs non-root and pitfalls: docs/private-dovecot.md. Low-level pieces: ./dovecot-process.ts.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  blockingDir,
  execFileP,
  findDovecot,
  findTool,
  freePort,
  identity,
  instanceProcesses,
  probeImap,
  renderConfig,
  signal,
  sleep,
  waitGone,
} from './dovecot-process.js';

const IMAP_BINARY = '/usr/lib/dovecot/imap';
const HOST = '127.0.0.1';
const REQUIRED_CAPS = ['IDLE', 'CONDSTORE', 'QRESYNC'];

/** A running private Dovecot instance. */
export interface DovecotServer {
  /** Always '127.0.0.1'. */
  readonly host: string;
  readonly port: number;
  /** Implicit-TLS (imaps) port when started with `tls` (then `port` offers STARTTLS), else 0. */
  readonly tlsPort: number;
  /** The self-signed certificate (PEM) when started with `tls`. */
  readonly certFile: string;
  /** Instance directory: dovecot.conf, users/, mail/, dovecot.log, dovecot.out (daemon stdout/stderr). */
  readonly dir: string;
  readonly configPath: string;
  /** Master PID of the current run (changes with restart(); 0 after kill()/stop()). */
  readonly pid: number;
  /** Adds an account (random unique lowercase name and random password by default); its INBOX works at once. */
  createUser(name?: string, password?: string): Promise<{ user: string; password: string }>;
  /** Runs `doveadm -c CONF ...args` with `input` on stdin; resolves stdout, rejects with stderr on failure. */
  doveadm(args: string[], input?: Buffer | string): Promise<string>;
  /** SIGTERM to the master, waits until all its processes are gone, removes the temp dir. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILLs the master and all its children (fault tests); restart() brings it back. */
  kill(): Promise<void>;
  /** Starts again (stopping gracefully first if running) on the same port and dir, with the same users and mail. */
  restart(): Promise<void>;
}

/**
 * Master PIDs still running; SIGTERMed if the test process exits without stop() (a crash, a bail-out). Kept on
 * globalThis so that a module re-evaluated per test file (vitest isolation) registers one exit listener only.
 */
const RUNNING = Symbol.for('incoming.test.dovecot.running');
const globals = globalThis as { [RUNNING]?: Set<number> };
const running = (globals[RUNNING] ??= (() => {
  const set = new Set<number>();
  process.once('exit', () => signal([...set], 'SIGTERM'));
  return set;
})());

/**
 * Starts a private Dovecot on 127.0.0.1 and a free port in a fresh short temp dir, or in `opts.dir` (created if
 * needed, and not removed by stop()). Resolves once the greeting, LOGIN, SELECT INBOX work and the post-login
 * CAPABILITY has IDLE, CONDSTORE and QRESYNC — or, with `opts.capabilities`, advertises that list instead (a minimal
 * server: clients then avoid what is not listed). Throws at once if Dovecot is not installed (never skips), and on
 * any start failure with the tail of dovecot.log and `doveconf -n`.
 */
export async function startDovecot(
  opts: { dir?: string; capabilities?: string; tls?: boolean; specialFolders?: boolean; extraConfig?: string; namespace?: string } = {},
): Promise<DovecotServer> {
  const dovecot = findDovecot();
  if (!dovecot || !existsSync(IMAP_BINARY)) throw new Error('IMAP tests need Dovecot: apt-get install -y dovecot-imapd');
  const doveconfBin = findTool('doveconf', dovecot);
  const id = await identity();

  const ownDirs: string[] = [];
  const shortTemp = async (): Promise<string> => {
    const d = await fs.mkdtemp(path.join(os.tmpdir().length <= 40 ? os.tmpdir() : '/tmp', 'dvc-'));
    ownDirs.push(d);
    await fs.chmod(d, 0o755); // mkdtemp makes 0700; nobody (mail) and dovecot (auth) must traverse it
    return d;
  };
  const dir = opts.dir ? path.resolve(opts.dir) : await shortTemp();
  // Unix socket paths are limited to 107 bytes: keep base_dir short (docs/private-dovecot.md).
  const runDir = `${dir}/run`.length < 80 ? `${dir}/run` : `${await shortTemp()}/run`;
  const configPath = path.join(dir, 'dovecot.conf');
  const usersDir = path.join(dir, 'users');
  const mailDir = path.join(dir, 'mail');
  const logFile = path.join(dir, 'dovecot.log');
  const outFile = path.join(dir, 'dovecot.out');
  const instance = `t${randomBytes(5).toString('hex')}`;
  /** Internal account for the readiness probe. */
  const probe = { user: `probe-${randomBytes(4).toString('hex')}`, password: randomBytes(8).toString('hex') };

  let port = 0;
  let tlsPort = 0;
  const certFile = path.join(dir, 'tls.crt');
  const keyFile = path.join(dir, 'tls.key');
  let pid = 0;
  let stopped = false;
  const removeOwnDirs = async (): Promise<void> => {
    for (const d of ownDirs) await fs.rm(d, { recursive: true, force: true });
  };

  const tail = async (file: string, lines: number): Promise<string> =>
    (await fs.readFile(file, 'utf8').catch(() => '')).trimEnd().split('\n').slice(-lines).join('\n');
  const diagnostics = async (): Promise<string> => {
    const conf = await execFileP(doveconfBin, ['-c', configPath, '-n']).then(
      (r) => r.stdout,
      (e: unknown) => `doveconf failed: ${e instanceof Error ? e.message : String(e)}`,
    );
    return `\n--- ${logFile} (tail) ---\n${await tail(logFile, 40)}\n--- ${outFile} (tail) ---\n${await tail(outFile, 20)}` +
      `\n--- doveconf -c ${configPath} -n ---\n${conf}`;
  };

  /** Runs `dovecot -c CONF` (it daemonizes); false if the port was taken. Output goes to a file, never a pipe. */
  const launch = async (): Promise<boolean> => {
    await fs.writeFile(configPath, renderConfig({ instance, dir, runDir, usersDir, mailDir, logFile, host: HOST, port, id, capabilities: opts.capabilities, specialFolders: opts.specialFolders, extraConfig: opts.extraConfig, namespace: opts.namespace, tls: opts.tls ? { port: tlsPort, certFile, keyFile } : undefined }));
    await fs.rm(path.join(runDir, 'master.pid'), { force: true });
    const logBefore = (await fs.stat(logFile).catch(() => undefined))?.size ?? 0;
    const out = await fs.open(outFile, 'a');
    let code: number | null;
    try {
      const child = spawn(dovecot, ['-c', configPath], { stdio: ['ignore', out.fd, out.fd] });
      code = await new Promise<number | null>((resolve, reject) => {
        child.once('error', reject);
        child.once('exit', resolve);
      });
    } finally {
      await out.close();
    }
    if (code === 0) return true;
    const said = (await fs.readFile(logFile).catch(() => Buffer.alloc(0))).subarray(logBefore).toString() + (await tail(outFile, 5));
    if (said.includes('Address already in use')) return false;
    throw new Error(`dovecot -c ${configPath} exited with ${code}${await diagnostics()}`);
  };

  const waitReady = async (): Promise<void> => {
    const deadline = Date.now() + 15_000;
    while (!pid) {
      const text = (await fs.readFile(path.join(runDir, 'master.pid'), 'utf8').catch(() => '')).trim();
      if (text) running.add((pid = Number(text)));
      else if (Date.now() > deadline) throw new Error(`Dovecot wrote no ${runDir}/master.pid${await diagnostics()}`);
      else await sleep(20);
    }
    let last = 'no attempt';
    while (Date.now() < deadline) {
      try {
        const caps = await probeImap(HOST, port, probe.user, probe.password, 5_000);
        const missing = opts.capabilities ? [] : REQUIRED_CAPS.filter((c) => !caps.includes(c));
        if (missing.length === 0) return;
        last = `post-login CAPABILITY lacks ${missing.join(', ')}: ${caps.join(' ')}`;
        break;
      } catch (e) {
        last = e instanceof Error ? e.message : String(e);
        await sleep(50);
      }
    }
    throw new Error(`Dovecot on ${HOST}:${port} is not ready: ${last}${await diagnostics()}`);
  };

  const killAll = async (): Promise<void> => {
    if (!pid) return;
    const pids = instanceProcesses(pid, instance);
    signal(pids, 'SIGKILL');
    await waitGone(pids, 10_000);
    running.delete(pid);
    pid = 0;
  };
  const terminate = async (): Promise<void> => {
    if (!pid) return;
    const pids = instanceProcesses(pid, instance);
    signal([pid], 'SIGTERM'); // the master ends its children (shutdown_clients = yes), ~1 s
    if (await waitGone(pids, 10_000)) {
      running.delete(pid);
      pid = 0;
    } else await killAll();
  };

  /** Launch + wait until ready. A fresh port per attempt, or (restart) the same port retried for ~5 s. */
  const start = async (samePort: boolean): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      if (!samePort) {
        port = await freePort(HOST);
        if (opts.tls) tlsPort = await freePort(HOST);
      }
      if (await launch()) break;
      if (attempt >= (samePort ? 50 : 10)) throw new Error(`port ${port} stays in use${await diagnostics()}`);
      await sleep(samePort ? 100 : 10);
    }
    try {
      await waitReady();
    } catch (e) {
      await killAll().catch(() => undefined);
      throw e;
    }
  };

  try {
    await fs.mkdir(path.join(dir, 'state'), { recursive: true });
    await fs.mkdir(usersDir, { recursive: true, mode: 0o755 });
    await fs.mkdir(mailDir, { recursive: true });
    if (id.root) {
      await fs.chown(mailDir, id.uid, id.gid);
      for (const user of ['nobody', 'dovecot']) {
        const blocked = await blockingDir(usersDir, user);
        if (blocked) throw new Error(`Dovecot test dir: user ${user} cannot traverse ${blocked} (chmod o+x it)`);
      }
    }
    await createDovecotUser(dir, probe.user, probe.password);
    if (opts.tls) {
      // A self-signed certificate for 127.0.0.1 (openssl comes with Dovecot's ssl-cert dependency).
      await execFileP('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']);
      await fs.chmod(keyFile, 0o644); // read by Dovecot's config process, which may not run as us
    }
    await start(false);
  } catch (e) {
    await removeOwnDirs();
    throw e;
  }

  return {
    host: HOST,
    get port() {
      return port;
    },
    get tlsPort() {
      return tlsPort;
    },
    certFile,
    dir,
    configPath,
    get pid() {
      return pid;
    },
    createUser: (name, password) => createDovecotUser(dir, name, password),
    doveadm: (args, input) => runDoveadm(configPath, args, input),
    async stop() {
      if (stopped) return;
      stopped = true;
      await terminate();
      await removeOwnDirs();
    },
    kill: killAll,
    async restart() {
      if (stopped) throw new Error('restart() after stop(): the instance dir is gone');
      await terminate();
      await start(true);
    },
  };
}

/**
 * Adds an account to the instance in `dir` (a DovecotServer's `dir`) and prepares its Maildir with the right owner,
 * so LOGIN and SELECT INBOX work at once. Works from any process of the same user, e.g. a test file that got `dir`
 * from global setup through inject(). Names are lowercased (Dovecot lowercases logins); default: a random name and
 * password. Rejects if the user exists.
 */
export async function createDovecotUser(
  dir: string,
  name = `u${randomBytes(6).toString('hex')}`,
  password = randomBytes(9).toString('base64url'),
): Promise<{ user: string; password: string }> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._@+-]*$/.test(name)) throw new Error(`createUser: unsupported name ${JSON.stringify(name)}`);
  if (/[:\r\n"\\]/.test(password)) throw new Error('createUser: the password must not contain : " \\ or line breaks');
  const id = await identity();
  const user = name.toLowerCase(); // Dovecot's default auth_username_format %Lu lowercases logins
  // One passwd-file per user (`users/%u` in passdb args): Dovecot re-stats an already loaded passwd-file at most
  // once per second, so a line appended to one shared file may stay invisible for up to 1 s.
  const file = path.join(dir, 'users', user);
  await fs.writeFile(file, `${user}:{PLAIN}${password}::::::\n`, { flag: 'wx', mode: 0o644 }).catch((e: unknown) => {
    throw e instanceof Error && 'code' in e && e.code === 'EEXIST' ? new Error(`createUser: ${user} already exists`) : e;
  });
  for (const sub of ['', 'Maildir', 'Maildir/cur', 'Maildir/new', 'Maildir/tmp']) {
    await fs.mkdir(path.join(dir, 'mail', user, sub), { recursive: true, mode: 0o700 });
    if (id.root) await fs.chown(path.join(dir, 'mail', user, sub), id.uid, id.gid);
  }
  return { user, password };
}

/** Runs `doveadm -c configPath ...args` with `input` on stdin; resolves stdout, rejects with stderr on failure. */
export function runDoveadm(configPath: string, args: string[], input?: Buffer | string): Promise<string> {
  const doveadm = findTool('doveadm', findDovecot() ?? '/usr/sbin/dovecot');
  return new Promise((resolve, reject) => {
    const child = spawn(doveadm, ['-c', configPath, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.once('error', reject);
    child.once('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out).toString('utf8'));
      else reject(new Error(`doveadm ${args.join(' ')} exited with ${code}: ${Buffer.concat(err).toString('utf8').trim()}`));
    });
    child.stdin.on('error', () => undefined); // doveadm may exit before reading all input
    child.stdin.end(input ?? '');
  });
}
