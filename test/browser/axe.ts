/**
 * WCAG audits in the browser tests: injects axe-core into a playwright page and runs the WCAG 2.1
 * A/AA rules (plus axe's best practices), returning each violation as readable lines (rule, impact,
 * where, what to fix) so a failing test says what to change.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AxeResults, NodeResult } from 'axe-core';
import type { Page } from 'playwright-core';

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** The rule sets a page must pass: WCAG 2.0 and 2.1, levels A and AA, and axe's best practices. */
export const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'];

/** One reviewed false positive: this rule, at exactly this target, and why it does not apply. */
export interface AxeException {
  rule: string;
  /** The node's target as axe reports it, shadow hosts joined with " >> " (`parley-comments >> .hint`). */
  target: string;
  why: string;
}

export interface AuditOptions {
  /**
   * CSS selectors of the region to audit (a shadow host includes its shadow tree). Default: the
   * whole page. On a publisher's page only Parley's own elements are Parley's to fix.
   */
  include?: string[];
  exceptions?: AxeException[];
}

const targetOf = (node: Pick<NodeResult, 'target'>) =>
  node.target.map((t) => (Array.isArray(t) ? t.join(' >> ') : t)).join(' | ');

/**
 * Runs axe in the page and returns one readable block per violated rule (empty when the page
 * passes). The source is evaluated rather than added as a <script>, because Parley's pages (and
 * careful publishers' pages) forbid inline scripts and the audit must not need the CSP loosened.
 */
export async function audit(page: Page, opts: AuditOptions = {}): Promise<string[]> {
  const loaded = await page.evaluate(() => 'axe' in window);
  if (!loaded) await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(
    async ({ include, tags }) => {
      const { axe } = window as unknown as { axe: typeof import('axe-core') };
      const res: AxeResults = await axe.run(include ? { include } : document, {
        runOnly: { type: 'tag', values: tags },
        resultTypes: ['violations'],
      });
      return res.violations.map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        helpUrl: v.helpUrl,
        nodes: v.nodes.map((n) => ({ target: n.target, failureSummary: n.failureSummary })),
      }));
    },
    { include: opts.include, tags: AXE_TAGS },
  );
  const exceptions = opts.exceptions ?? [];
  const out: string[] = [];
  for (const v of violations) {
    const nodes = v.nodes.filter((n) => !exceptions.some((e) => e.rule === v.id && e.target === targetOf(n)));
    if (!nodes.length) continue;
    const lines = nodes.map(
      (n) => `  at ${targetOf(n)}\n    ${(n.failureSummary ?? '').replace(/\n\s*/g, '\n    ')}`,
    );
    out.push(
      `${v.id} (${v.impact ?? 'unknown'}): ${v.help} [${nodes.length}]\n${lines.join('\n')}\n  ${v.helpUrl}`,
    );
  }
  return out;
}
