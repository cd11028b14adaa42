import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'workers/**/*.test.ts', 'db/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: ['node_modules/**'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores: more forks only fight Postgres and Redis for CPU.
    maxWorkers: 2,
    // The JSON report is what CI counts from; the default reporter is for people.
    reporters: ['default', ['json', { outputFile: 'test-output/vitest.json' }]],
  },
});
