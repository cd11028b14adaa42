/** `npm run test:browser`: only the browser tests (the default config runs them too). */
import { defineConfig, mergeConfig } from 'vitest/config';
import base from './vitest.config';

export default mergeConfig(base, defineConfig({ test: { include: ['test/browser/**/*.test.ts'] } }));
