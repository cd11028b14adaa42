/** `npm run test:browser`: only the browser tests (the default config runs them too). */
import { defineConfig } from 'vitest/config';
import base from './vitest.config';

export default defineConfig({ ...base, test: { ...base.test, include: ['test/browser/**/*.test.ts'] } });
