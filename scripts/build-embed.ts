/**
 * Bundles and minifies the reader-facing scripts (embed.js, count.js) with esbuild, in memory.
 * The server calls buildEmbed() once at start-up and serves the result with a content-hash ETag,
 * pre-compressed; `npm run build:embed` prints the sizes and writes src/embed/dist/ for a look.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

export interface EmbedAsset {
  name: 'embed.js' | 'count.js';
  code: Buffer;
  gzip: Buffer;
  brotli: Buffer;
  /** First 16 hex characters of the SHA-256 of `code`. */
  hash: string;
}

export interface EmbedBuildOptions {
  /** The server's COMMENT_MAX_CHARS, baked in so the counter matches what the API accepts. */
  maxChars: number;
  minify?: boolean;
}

const here = dirname(fileURLToPath(import.meta.url));
const srcDir = join(here, '..', 'src', 'embed');

export async function buildEmbed(opts: EmbedBuildOptions): Promise<EmbedAsset[]> {
  // tsx (a runtime dependency) depends on esbuild, so it is present wherever Parley runs.
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: { embed: join(srcDir, 'embed.ts'), count: join(srcDir, 'count.ts') },
    bundle: true,
    minify: opts.minify ?? true,
    format: 'iife',
    target: ['es2020', 'chrome90', 'firefox90', 'safari15'],
    write: false,
    outdir: 'out',
    legalComments: 'none',
    charset: 'utf8',
    define: { __PARLEY_MAX_CHARS__: String(Math.trunc(opts.maxChars)) },
    logLevel: 'silent',
  });
  return result.outputFiles.map((f) => {
    const code = Buffer.from(f.contents);
    return {
      name: f.path.endsWith('count.js') ? 'count.js' : 'embed.js',
      code,
      gzip: gzipSync(code, { level: 9 }),
      brotli: brotliCompressSync(code, {
        params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: code.length },
      }),
      hash: createHash('sha256').update(code).digest('hex').slice(0, 16),
    };
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const started = performance.now();
  const assets = await buildEmbed({ maxChars: Number(process.env.COMMENT_MAX_CHARS) || 5000 });
  const ms = Math.round(performance.now() - started);
  const out = join(srcDir, 'dist');
  mkdirSync(out, { recursive: true });
  for (const a of assets) {
    writeFileSync(join(out, a.name), a.code);
    console.log(
      `${a.name}: ${a.code.length} B minified, ${a.gzip.length} B gzip, ${a.brotli.length} B brotli, hash ${a.hash}`,
    );
  }
  console.log(`built in ${ms} ms into ${out} (not committed: the server builds in memory at start-up)`);
}
