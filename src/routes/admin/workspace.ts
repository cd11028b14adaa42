/** Admin-only site settings for the workspace: settings, moderator accounts, API tokens, privacy. */
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { AppDeps, AppEnv } from '../../deps';
import { type PrincipalResolver, requireRole } from '../../lib/auth';
import { AppError } from '../../lib/errors';
import { getSettings, saveSettings } from '../../repositories/site-settings';
import { updateAllowedOrigins } from '../../repositories/sites';
import { createToken, revokeToken } from '../../repositories/tokens';
import {
  changeRole,
  createUser,
  findAccountByEmail,
  membersOf,
  type RoleChange,
} from '../../repositories/users';
import { eraseAuthor, exportAuthor } from '../../services/privacy';
import { cleanText, SiteParam } from '../comments/comments.schemas';
import { json, problem } from '../openapi';

const body = <T extends z.ZodType>(schema: T) => ({
  required: true,
  content: { 'application/json': { schema } },
});
const guarded = {
  401: problem('No credentials'),
  403: problem('Not an admin of this site, or cookie request without the CSRF token'),
  404: problem('No such site (or not yours), or no such item'),
  422: problem('Invalid input'),
};
const lastAdmin = problem('Would leave the site without an admin account (`last_admin`)');
const security: Array<Record<string, string[]>> = [{ bearer: [] }, { session: [] }];
const tags = ['admin'];
const base = '/api/v1/admin/sites/{siteId}';

const origin = z
  .string()
  .max(200)
  .refine((s) => {
    try {
      const u = new URL(s);
      return (u.protocol === 'https:' || u.protocol === 'http:') && u.origin === s;
    } catch {
      return false;
    }
  }, 'An origin such as https://news.example (scheme, host and port only)');

const SettingsSchema = z
  .object({
    allowedOrigins: z.array(origin).max(50),
    reportThreshold: z.number().int().min(1).max(1000),
    retentionDays: z.number().int().min(1).max(3650),
    eraseMode: z.enum(['anonymise', 'delete']),
  })
  .openapi('WorkspaceSettings');

const MemberSchema = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string(),
  role: z.enum(['admin', 'moderator']),
});
const UserParams = SiteParam.extend({ userId: z.uuid().openapi({ param: { name: 'userId', in: 'path' } }) });
const TokenParams = SiteParam.extend({
  tokenId: z.uuid().openapi({ param: { name: 'tokenId', in: 'path' } }),
});
const EmailBody = z.object({ email: z.email().max(320) });

export const routes = {
  getSettings: createRoute({
    method: 'get',
    path: `${base}/settings`,
    tags,
    security,
    summary: 'Workspace settings of a site',
    request: { params: SiteParam },
    responses: { 200: json('Settings', SettingsSchema), ...guarded },
  }),
  putSettings: createRoute({
    method: 'put',
    path: `${base}/settings`,
    tags,
    security,
    summary: 'Change allowed embed origins, report threshold, retention and erase mode',
    request: { params: SiteParam, body: body(SettingsSchema) },
    responses: { 200: json('Saved', SettingsSchema), ...guarded },
  }),
  listMembers: createRoute({
    method: 'get',
    path: `${base}/members`,
    tags,
    security,
    summary: 'Moderator and admin accounts of a site',
    request: { params: SiteParam },
    responses: { 200: json('Members', z.object({ members: z.array(MemberSchema) })), ...guarded },
  }),
  addMember: createRoute({
    method: 'post',
    path: `${base}/members`,
    tags,
    security,
    summary: 'Give an account a role on this site (creating it when a password is given)',
    request: {
      params: SiteParam,
      body: body(
        z.object({
          email: z.email().max(320),
          role: z.enum(['admin', 'moderator']),
          password: z.string().min(10).max(1000).optional(),
          name: cleanText(100).min(1).optional(),
        }),
      ),
    },
    responses: {
      201: json('Member', MemberSchema),
      ...guarded,
      409: problem(
        'Would leave the site without an admin account (`last_admin`), or the account is disabled',
      ),
    },
  }),
  removeMember: createRoute({
    method: 'delete',
    path: `${base}/members/{userId}`,
    tags,
    security,
    summary: "Remove an account's role on this site",
    request: { params: UserParams },
    responses: { 204: { description: 'Removed' }, ...guarded, 409: lastAdmin },
  }),
  listTokens: createRoute({
    method: 'get',
    path: `${base}/tokens`,
    tags,
    security,
    summary: 'API tokens of this site (never the secrets)',
    request: { params: SiteParam },
    responses: {
      200: json(
        'Tokens',
        z.object({
          tokens: z.array(
            z.object({
              id: z.string(),
              name: z.string(),
              role: z.string(),
              createdAt: z.string(),
              lastUsedAt: z.string().nullable(),
              revoked: z.boolean(),
            }),
          ),
        }),
      ),
      ...guarded,
    },
  }),
  createToken: createRoute({
    method: 'post',
    path: `${base}/tokens`,
    tags,
    security,
    summary: 'Create an API token (the secret is shown once)',
    request: {
      params: SiteParam,
      body: body(z.object({ name: cleanText(100).min(1), role: z.enum(['admin', 'moderator']) })),
    },
    responses: {
      201: json(
        'Created',
        z.object({ id: z.string(), token: z.string(), name: z.string(), role: z.string() }),
      ),
      ...guarded,
    },
  }),
  revokeToken: createRoute({
    method: 'delete',
    path: `${base}/tokens/{tokenId}`,
    tags,
    security,
    summary: 'Revoke an API token',
    request: { params: TokenParams },
    responses: { 204: { description: 'Revoked' }, ...guarded },
  }),
  exportAuthor: createRoute({
    method: 'post',
    path: `${base}/privacy/export`,
    tags,
    security,
    summary: 'Everything stored about an author (by email) on this site, as JSON',
    description: 'POST so the email never appears in a URL or access log.',
    request: { params: SiteParam, body: body(EmailBody) },
    responses: { 200: json('The export', z.record(z.string(), z.unknown())), ...guarded },
  }),
  eraseAuthor: createRoute({
    method: 'post',
    path: `${base}/privacy/erase`,
    tags,
    security,
    summary: "Erase an author's personal data on this site",
    request: { params: SiteParam, body: body(EmailBody) },
    responses: {
      200: json('Erased', z.object({ comments: z.number().int(), mode: z.enum(['anonymise', 'delete']) })),
      ...guarded,
    },
  }),
};

function refuseLastAdmin(change: RoleChange): RoleChange {
  if (change === 'last_admin') {
    throw new AppError(409, 'last_admin', 'A site keeps at least one admin account: add another admin first');
  }
  return change;
}

export function mountAdminWorkspace(app: OpenAPIHono<AppEnv>, deps: AppDeps, resolvers: PrincipalResolver[]) {
  const admin = requireRole(resolvers, 'admin');
  for (const p of ['settings', 'members', 'members/*', 'tokens', 'tokens/*', 'privacy/*']) {
    app.use(`/api/v1/admin/sites/:siteId/${p}`, admin);
  }

  app.openapi(routes.getSettings, async (c) => {
    const { siteId } = c.req.valid('param');
    const site = await deps.sites.get(siteId);
    if (!site) throw AppError.notFound('Site');
    return c.json({ allowedOrigins: site.allowedOrigins, ...(await getSettings(deps.db, siteId)) }, 200);
  });

  app.openapi(routes.putSettings, async (c) => {
    const { siteId } = c.req.valid('param');
    const b = c.req.valid('json');
    await deps.db.transaction().execute(async (trx) => {
      await updateAllowedOrigins(trx, siteId, [...new Set(b.allowedOrigins)]);
      await saveSettings(trx, siteId, {
        reportThreshold: b.reportThreshold,
        retentionDays: b.retentionDays,
        eraseMode: b.eraseMode,
      });
    });
    deps.sites.invalidate(siteId);
    return c.json({ ...b, allowedOrigins: [...new Set(b.allowedOrigins)] }, 200);
  });

  app.openapi(routes.listMembers, async (c) => {
    const { siteId } = c.req.valid('param');
    const rows = await membersOf(deps.db, siteId);
    return c.json(
      { members: rows.map((m) => ({ id: m.id, email: m.email, name: m.name, role: m.role })) },
      200,
    );
  });

  app.openapi(routes.addMember, async (c) => {
    const { siteId } = c.req.valid('param');
    const b = c.req.valid('json');
    let account = await findAccountByEmail(deps.db, b.email);
    if (!account) {
      if (!b.password) {
        throw AppError.validation([
          { path: 'password', message: 'No account has this email; give a password to create it' },
        ]);
      }
      try {
        await createUser(deps.db, { email: b.email, password: b.password, name: b.name });
      } catch (err) {
        // Created by a double submit or another admin meanwhile: give that account the role.
        if (!(err instanceof AppError && err.code === 'conflict')) throw err;
      }
      account = await findAccountByEmail(deps.db, b.email);
      if (!account) throw new AppError(409, 'conflict', 'The account was removed meanwhile; try again');
    }
    if (account.disabled_at) {
      throw new AppError(
        409,
        'account_disabled',
        'This account is disabled; an operator must enable it first',
      );
    }
    refuseLastAdmin(await changeRole(deps.db, account.id, siteId, b.role));
    return c.json({ id: account.id, email: account.email, name: account.name, role: b.role }, 201);
  });

  app.openapi(routes.removeMember, async (c) => {
    const { siteId, userId } = c.req.valid('param');
    if (refuseLastAdmin(await changeRole(deps.db, userId, siteId, null)) === 'not_member') {
      throw AppError.notFound('Member');
    }
    return c.body(null, 204);
  });

  app.openapi(routes.listTokens, async (c) => {
    const { siteId } = c.req.valid('param');
    const rows = await deps.db
      .selectFrom('api_tokens')
      .select(['id', 'name', 'role', 'created_at', 'last_used_at', 'revoked_at'])
      .where('site_id', '=', siteId)
      .orderBy('created_at', 'desc')
      .execute();
    return c.json(
      {
        tokens: rows.map((t) => ({
          id: t.id,
          name: t.name,
          role: t.role,
          createdAt: t.created_at.toISOString(),
          lastUsedAt: t.last_used_at?.toISOString() ?? null,
          revoked: !!t.revoked_at,
        })),
      },
      200,
    );
  });

  app.openapi(routes.createToken, async (c) => {
    const { siteId } = c.req.valid('param');
    const b = c.req.valid('json');
    const t = await createToken(deps.db, { siteId, role: b.role, name: b.name });
    return c.json({ id: t.id, token: t.token, name: t.name, role: t.role }, 201);
  });

  app.openapi(routes.revokeToken, async (c) => {
    const { siteId, tokenId } = c.req.valid('param');
    if (!(await revokeToken(deps.db, siteId, tokenId))) throw AppError.notFound('Token');
    return c.body(null, 204);
  });

  app.openapi(routes.exportAuthor, async (c) => {
    const { siteId } = c.req.valid('param');
    const { email } = c.req.valid('json');
    c.header('Cache-Control', 'no-store');
    return c.json(await exportAuthor(deps.db, deps.config.PARLEY_SECRET, siteId, email), 200);
  });

  app.openapi(routes.eraseAuthor, async (c) => {
    const { siteId } = c.req.valid('param');
    const { email } = c.req.valid('json');
    const res = await eraseAuthor(deps, deps.config.PARLEY_SECRET, siteId, email, c.get('principal').actorId);
    return c.json(res, 200);
  });
}
