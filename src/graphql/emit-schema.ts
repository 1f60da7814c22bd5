/** `npm run schema:emit`: writes schema/schema.graphql from the code (a test fails when the file is stale). */
import { writeFile } from 'node:fs/promises';
import { printSdl, SCHEMA_FILE } from './schema.js';

await writeFile(SCHEMA_FILE, await printSdl());
console.log(`wrote ${SCHEMA_FILE}`);
