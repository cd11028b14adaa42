/** Serves the reader-facing embed script. (The embed feature replaces this placeholder.) */
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppDeps, AppEnv } from '../../deps';

export function mountEmbed(app: OpenAPIHono<AppEnv>, _deps: AppDeps): void {
  app.get('/embed.js', (c) =>
    c.body('console.warn("Parley embed is not built yet");', 200, {
      'content-type': 'text/javascript; charset=utf-8',
    }),
  );
}
