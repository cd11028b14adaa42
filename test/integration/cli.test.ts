import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';
import { createDb } from '../../db/database';
import { hashToken } from '../../src/lib/crypto';
import { createSite } from '../../src/repositories/sites';
import { createUser } from '../../src/repositories/users';

const run = promisify(execFile);

async function cli(args: string[]) {
  try {
    const { stdout, stderr } = await run('npx', ['tsx', 'src/cli.ts', ...args], {
      env: { ...process.env, DATABASE_URL: inject('databaseUrl'), LOG_LEVEL: 'silent' },
      timeout: 30_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('npm run parley', () => {
  it('creates a site and a token, printing JSON, and stores only the token hash', async () => {
    const site = await cli([
      'site',
      'create',
      '--name',
      'CLI Gazette',
      '--origin',
      'https://cli.example/path',
    ]);
    expect(site.code).toBe(0);
    const created = JSON.parse(site.stdout) as { id: string; allowedOrigins: string[] };
    expect(created.allowedOrigins).toEqual(['https://cli.example']);

    const tok = await cli(['token', 'create', '--site', created.id, '--role', 'moderator']);
    expect(tok.code).toBe(0);
    const { token, role } = JSON.parse(tok.stdout) as { token: string; role: string };
    expect(role).toBe('moderator');

    const db = createDb({ url: inject('databaseUrl'), poolMax: 1 });
    try {
      const row = await db
        .selectFrom('api_tokens')
        .selectAll()
        .where('site_id', '=', created.id)
        .executeTakeFirstOrThrow();
      expect(row.token_hash).toBe(hashToken(token));
      expect(row.token_hash).not.toContain(token);
    } finally {
      await db.destroy();
    }
  });

  it('explains bad arguments with exit code 2 and no stack trace', async () => {
    const bad = await cli(['token', 'create', '--site', 'site_missing', '--role', 'owner']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--role must be admin or moderator');
    expect(bad.stderr).not.toContain('    at ');
    const origin = await cli(['site', 'create', '--name', 'X', '--origin', 'javascript:alert(1)']);
    expect(origin.code).toBe(2);
  });

  it('refuses to give a disabled account a role, and creates no second account', async () => {
    const db = createDb({ url: inject('databaseUrl'), poolMax: 1 });
    try {
      const site = await createSite(db, { name: 'Accounts', allowedOrigins: ['https://a.example'] });
      const email = `cli-${Date.now()}@example.test`;
      await createUser(db, { email, password: 'a long passphrase' });
      await db.updateTable('users').set({ disabled_at: new Date() }).where('email', '=', email).execute();
      const disabled = await cli([
        'user',
        'create',
        '--email',
        email,
        '--site',
        site.id,
        '--role',
        'admin',
        '--password',
        'another passphrase',
      ]);
      expect(disabled.code).toBe(2);
      expect(disabled.stderr).toContain(`the account ${email} is disabled`);
      expect(disabled.stderr).not.toContain('    at ');
      expect(await db.selectFrom('users').select('id').where('email', '=', email).execute()).toHaveLength(1);
      expect(
        await db.selectFrom('memberships').select('user_id').where('site_id', '=', site.id).execute(),
      ).toEqual([]);
    } finally {
      await db.destroy();
    }
  });
});
