import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globalSetup: ['test/global-setup.ts'],
    // tsvisor test's Vitest integration (tsvisor/vitest, from its source): under
    // `tsvisor test` each test's accesses are attributed to it; elsewhere a no-op.
    setupFiles: ['src/testrun/vitest.ts'],
    testTimeout: 60000,
    hookTimeout: 120000,
    pool: 'forks',
  },
});
