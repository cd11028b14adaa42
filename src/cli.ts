/**
 * `npm run parley -- <command>`: operator commands. Each prints what it created as JSON on stdout;
 * messages go to stderr.
 */
import { parseArgs } from 'node:util';
import { createDb, ensureDatabase } from '../db/database';
import { migrateToLatest } from '../db/migrate';
import { ConfigError, loadConfig } from './config';
import { createSite } from './repositories/sites';
import { createToken, revokeToken } from './repositories/tokens';
import { createUser, findAccountByEmail, grantRole } from './repositories/users';

type Handler = (args: string[], ctx: CliContext) => Promise<unknown>;
interface CliContext {
  db: ReturnType<typeof createDb>;
}

class UsageError extends Error {}

function originList(values: string[]): string[] {
  return values.map((v) => {
    let u: URL;
    try {
      u = new URL(v);
    } catch {
      throw new UsageError(`--origin ${v}: not a URL (expected e.g. https://news.example)`);
    }
    if (u.protocol !== 'https:' && u.protocol !== 'http:')
      throw new UsageError(`--origin ${v}: must be http(s)`);
    return u.origin;
  });
}

const commands: Record<string, { usage: string; run: Handler }> = {
  'site create': {
    usage: 'site create --name NAME [--origin https://news.example ...] [--id site_custom]',
    run: async (args, { db }) => {
      const { values } = parseArgs({
        args,
        options: {
          name: { type: 'string' },
          origin: { type: 'string', multiple: true },
          id: { type: 'string' },
        },
      });
      if (!values.name) throw new UsageError('--name is required');
      if (values.id && !/^[a-z0-9_-]{1,64}$/i.test(values.id))
        throw new UsageError('--id: letters, digits, _ and - only');
      const site = await db.transaction().execute((trx) =>
        createSite(trx, {
          name: values.name!,
          allowedOrigins: originList(values.origin ?? []),
          id: values.id,
          createdBy: 'cli',
        }),
      );
      return {
        id: site.id,
        name: site.name,
        allowedOrigins: site.allowedOrigins,
        policyVersion: site.policyVersion,
      };
    },
  },
  'token create': {
    usage: 'token create --site SITE_ID --role admin|moderator [--name LABEL]',
    run: async (args, { db }) => {
      const { values } = parseArgs({
        args,
        options: { site: { type: 'string' }, role: { type: 'string' }, name: { type: 'string' } },
      });
      if (!values.site) throw new UsageError('--site is required');
      if (values.role !== 'admin' && values.role !== 'moderator')
        throw new UsageError('--role must be admin or moderator');
      const site = await db.selectFrom('sites').select('id').where('id', '=', values.site).executeTakeFirst();
      if (!site) throw new UsageError(`no site with id ${values.site}`);
      const t = await createToken(db, {
        siteId: values.site,
        role: values.role,
        name: values.name ?? `${values.role} token`,
      });
      return { ...t, note: 'Store this token now: it is shown only once.' };
    },
  },
  'user create': {
    usage:
      'user create --email EMAIL --password PASSWORD --site SITE_ID --role admin|moderator [--name NAME] (an existing account gets the role)',
    run: async (args, { db }) => {
      const { values } = parseArgs({
        args,
        options: {
          email: { type: 'string' },
          password: { type: 'string' },
          site: { type: 'string' },
          role: { type: 'string' },
          name: { type: 'string' },
        },
      });
      if (!values.email || !/^[^@\s]+@[^@\s]+$/.test(values.email))
        throw new UsageError('--email is required');
      if (!values.site) throw new UsageError('--site is required');
      if (values.role !== 'admin' && values.role !== 'moderator')
        throw new UsageError('--role must be admin or moderator');
      const site = await db.selectFrom('sites').select('id').where('id', '=', values.site).executeTakeFirst();
      if (!site) throw new UsageError(`no site with id ${values.site}`);
      const existing = await findAccountByEmail(db, values.email);
      if (existing?.disabled_at) throw new UsageError(`the account ${existing.email} is disabled`);
      if (!existing && (!values.password || values.password.length < 10))
        throw new UsageError('--password of at least 10 characters is required for a new account');
      const user =
        existing ??
        (await createUser(db, { email: values.email, password: values.password!, name: values.name }));
      await grantRole(db, user.id, values.site, values.role);
      return { id: user.id, email: user.email, site: values.site, role: values.role, created: !existing };
    },
  },
  'token revoke': {
    usage: 'token revoke --site SITE_ID --id TOKEN_ID',
    run: async (args, { db }) => {
      const { values } = parseArgs({ args, options: { site: { type: 'string' }, id: { type: 'string' } } });
      if (!values.site || !values.id) throw new UsageError('--site and --id are required');
      return { revoked: await revokeToken(db, values.site, values.id) };
    },
  },
};

function usage(): string {
  return [
    'usage: npm run parley -- <command>',
    '',
    ...Object.values(commands).map((c) => `  ${c.usage}`),
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const name = argv.slice(0, 2).join(' ');
  const command = commands[name];
  if (!command) {
    console.error(usage());
    return argv.length ? 2 : 0;
  }
  const config = loadConfig();
  await ensureDatabase(config.DATABASE_URL);
  const db = createDb({ url: config.DATABASE_URL, poolMax: 2 });
  try {
    await migrateToLatest(db);
    const out = await command.run(argv.slice(2), { db });
    console.log(JSON.stringify(out, null, 2));
    return 0;
  } finally {
    await db.destroy();
  }
}

export const cliCommands = commands;

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    if (
      err instanceof UsageError ||
      err instanceof ConfigError ||
      (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
    ) {
      console.error(`parley: ${(err as Error).message}`);
      process.exit(2);
    }
    console.error('parley:', (err as Error).message);
    process.exit(1);
  },
);
