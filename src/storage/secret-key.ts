/**
 * The 32-byte key that seals stored credentials: INCOMING_SECRET_KEY when given, else DATA_DIR/secret.key, generated
 * with mode 0600 on first start.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseKey } from '../shared/crypto.js';
import { StartupError } from '../shared/errors.js';

/** What link() says on a file system that has no hard links. */
const NO_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

export async function loadSecretKey(given: string | undefined, dataDir: string): Promise<Buffer> {
  if (given) return parseKey(given);
  const file = path.join(dataDir, 'secret.key');
  if (existsSync(file)) return parseKey((await readFile(file, 'utf8')).trim());
  const key = randomBytes(32).toString('hex');
  // Written in full under a name of its own, then linked into place (link fails if the file exists): a process
  // starting at the same moment never reads a secret.key that is created but still empty, as with open(wx) + write.
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    await writeFile(tmp, `${key}\n`, { mode: 0o600, flag: 'wx' });
    await link(tmp, file).catch(async (err: NodeJS.ErrnoException) => {
      // A file system without hard links (some SMB/CIFS mounts, exFAT): create it directly, as before the link.
      if (!NO_LINKS.has(err.code ?? '')) throw err;
      await writeFile(file, `${key}\n`, { mode: 0o600, flag: 'wx' });
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EEXIST') {
      throw new StartupError(`Cannot create ${file} (${code}): make DATA_DIR writable, or set INCOMING_SECRET_KEY`, { cause: err });
    }
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  return parseKey((await readFile(file, 'utf8')).trim());
}
