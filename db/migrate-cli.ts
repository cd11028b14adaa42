/** `npm run migrate`: create the database if needed and apply pending migrations. */
import { loadConfig } from '../src/config';
import { createDb, ensureDatabase } from './database';
import { migrateToLatest } from './migrate';

const config = loadConfig();
await ensureDatabase(config.DATABASE_URL);
const db = createDb({ url: config.DATABASE_URL, poolMax: 2 });
try {
  const { results } = await migrateToLatest(db);
  for (const r of results ?? []) console.log(`${r.status.toLowerCase()}: ${r.migrationName}`);
  if (!results?.length) console.log('database is up to date');
} finally {
  await db.destroy();
}
