/**
 * The 32-byte key that seals stored credentials: INCOMING_SECRET_KEY when given, else DATA_DIR/secret.key, generated
 * with mode 0600 on first start.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseKey } from '../shared/crypto.js';
import { StartupError } from '../shared/errors.js';

export async function loadSecretKey(given: string | undefined, dataDir: string): Promise<Buffer> {
  if (given) return parseKey(given);
  const file = path.join(dataDir, 'secret.key');
  if (existsSync(file)) return parseKey((await readFile(file, 'utf8')).trim());
  const key = randomBytes(32).toString('hex');
  try {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    await writeFile(file, `${key}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EEXIST') {
      throw new StartupError(`Cannot create ${file} (${code}): make DATA_DIR writable, or set INCOMING_SECRET_KEY`, { cause: err });
    }
  }
  return parseKey((await readFile(file, 'utf8')).trim());
}
