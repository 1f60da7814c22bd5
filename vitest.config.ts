import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

// Two projects: `unit` (pure logic) and `db` (integration tests against real PostgreSQL + a private Dovecot, and
// end-to-end tests that start the server and talk HTTP/WebSocket). `npm test` runs both; `npm run test:db` the second.
export default defineConfig({
  // graphql ships CJS (main) and ESM (module) builds without an exports map: Node loads the CJS one for dependencies
  // such as type-graphql, so our own files must get the same instance ("Cannot use GraphQLSchema from another realm").
  resolve: { alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }] },
  test: {
    testTimeout: 30_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
    pool: 'forks',
    maxWorkers: 2,
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'db',
          include: ['test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          globalSetup: ['test/global-setup.ts'],
        },
      },
    ],
  },
});
