import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Names the run; on PostgreSQL (FIELDSYNC_STORE=pg) the template schema test servers start from.
    globalSetup: ['test/helpers/pg-run.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Server tests spawn processes and bind ports; two workers fit a 2-core machine.
    pool: 'forks',
    maxWorkers: 2
  }
})
