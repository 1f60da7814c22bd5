/**
 * The 32-byte key that seals stored credentials: INCOMING_SECRET_KEY when given, else DATA_DIR/secret.key, generated
 * with mode 0600 on first start.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseKey } from '../shared/crypto.js';

export async function loadSecretKey(given: string | undefined, dataDir: string): Promise<Buffer> {
  if (given) return parseKey(given);
  const file = path.join(dataDir, 'secret.key');
  if (existsSync(file)) return parseKey((await readFile(file, 'utf8')).trim());
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const key = randomBytes(32).toString('hex');
  await writeFile(file, `${key}\n`, { mode: 0o600, flag: 'wx' }).catch(async (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
  return parseKey((await readFile(file, 'utf8')).trim());
}
