import { configDefaults, defineConfig } from 'vitest/config'

/**
 * Files whose every test is the same whatever FIELDSYNC_STORE says: they run on PostgreSQL + Redis in every
 * run already (the PostgreSQL adapters, the cluster), test the SQLite adapters themselves, or use no
 * server store (the device's and the browser's local stores, the package build, the lab's own SQLite).
 * `npm test` runs them; the PostgreSQL pass (`npm run test:pg`) leaves them out rather than repeat them.
 */
const SAME_ON_EVERY_STORE = [
  'test/server/pg-ports.test.ts', 'test/cluster/**', 'test/server/sqlite-ports.test.ts', 'test/server/storage.test.ts',
  'test/server/held-records.test.ts', 'test/client/local-stores.test.ts', 'test/browser/local-stores.test.ts',
  'test/package.test.ts', 'test/lab/**'
]

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: [...configDefaults.exclude, ...(process.env.FIELDSYNC_STORE === 'pg' ? SAME_ON_EVERY_STORE : [])],
    // Names the run; on PostgreSQL (FIELDSYNC_STORE=pg) the template schema test servers start from.
    globalSetup: ['test/helpers/pg-run.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Server tests spawn processes and bind ports; two workers fit a 2-core machine.
    pool: 'forks',
    maxWorkers: 2
  }
})
