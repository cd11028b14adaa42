/**
 * fast-check arbitraries for hostile HTTP input, driven by the app's own OpenAPI document: values
 * that mostly follow a JSON Schema with garbage mixed in at every level, plus the classic bad
 * path segments, query values, bodies and content types.
 */
import fc from 'fast-check';

/** The subset of JSON Schema the generated OpenAPI document uses. */
export interface JsonSchema {
  $ref?: string;
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  enum?: unknown[];
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  pattern?: string;
  format?: string;
}

/** A JSON token written into the body as is, for what JSON.stringify cannot produce (1e400, deep nesting). */
export class RawJson {
  constructor(readonly text: string) {}
}

/** The property every prototype-pollution attempt tries to set; the test checks it never appears. */
export const POLLUTION_MARK = 'parleyFuzzPolluted';

/** Serialises like JSON.stringify, but keeps own `__proto__` keys and writes RawJson tokens verbatim. */
export function toJson(v: unknown): string {
  if (v instanceof RawJson) return v.text;
  if (Array.isArray(v)) return `[${v.map(toJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v)
      .map((k) => `${JSON.stringify(k)}:${toJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** An object whose keys are all own properties, `__proto__` included (a literal would set the prototype). */
function ownObject(entries: Array<[string, unknown]>): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const [k, v] of entries) {
    Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return o;
}

const pollution = () =>
  ownObject([
    ['__proto__', ownObject([[POLLUTION_MARK, true]])],
    ['constructor', ownObject([['prototype', ownObject([[POLLUTION_MARK, true]])]])],
  ]);

/** Strings every text field should survive. */
const HOSTILE_STRINGS = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\ud800',
  '\udfff\ud800',
  '\u202egnp.exe',
  '\r\n\tx',
  '%00',
  '%',
  '..',
  '../../../../etc/passwd',
  "' OR '1'='1' --",
  '"; DROP TABLE comments; --',
  '<script>alert(1)</script>',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a template-injection probe, on purpose
  '{{7*7}}${7*7}',
  'NaN',
  'Infinity',
  '-0',
  '1e400',
  '99999999999999999999999999',
  'null',
  'true',
  '[]',
  '{}',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  '00000000-0000-0000-0000-000000000000',
  'ffffffff-ffff-ffff-ffff-ffffffffffff',
  'ep_',
  'msg_',
  'javascript:alert(1)',
  'http://169.254.169.254/latest/meta-data/',
  'file:///etc/passwd',
  '💥'.repeat(50),
  'é'.normalize('NFD').repeat(100),
  '𝕏'.repeat(300),
  'a'.repeat(2_001),
  'b'.repeat(20_000),
];

const hostileScalar = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom<unknown>(...HOSTILE_STRINGS) },
  {
    weight: 3,
    arbitrary: fc.constantFrom<unknown>(
      null,
      true,
      false,
      0,
      -1,
      0.5,
      -2_147_483_649,
      2 ** 53 + 2,
      1e308,
      -1e308,
      new RawJson('1e400'),
      new RawJson('-1e400'),
      new RawJson('123456789012345678901234567890'),
      new RawJson('1.0000000000000000000000001'),
      new RawJson('-0'),
    ),
  },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.double() },
);

/** Any JSON value a careless client or an attacker might send where something else was expected. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: hostileScalar },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom<unknown>(
      [],
      {},
      [null],
      [[[[[]]]]],
      ownObject([['', '']]),
      Array.from({ length: 300 }, (_, i) => `x${i}`),
      new RawJson(`${'['.repeat(5_000)}${']'.repeat(5_000)}`),
      new RawJson(`${'{"a":'.repeat(3_000)}1${'}'.repeat(3_000)}`),
    ),
  },
  { weight: 1, arbitrary: fc.constant(null).map(() => pollution()) },
);

const PROTOTYPE_KEYS = ['__proto__', 'constructor', 'toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf'];
const HOSTILE_KEYS = [...PROTOTYPE_KEYS, 'prototype', '', 'a'.repeat(300)];
const hostileKey = fc.oneof(fc.constantFrom(...HOSTILE_KEYS), fc.string({ maxLength: 12 }));

/** Plausible values for fields whose meaning a schema does not carry (URLs are IP literals: no DNS). */
const HINTS: Record<string, fc.Arbitrary<unknown>> = {
  url: fc.constantFrom(
    'http://127.0.0.1:9/fuzz',
    'https://127.0.0.1:9/fuzz',
    'http://localhost:9/fuzz',
    'http://[::1]:9/fuzz',
    'http://0x7f.1:9/fuzz',
    'http://10.0.0.1/fuzz',
    'http://169.254.169.254/latest',
    'http://user:pw@127.0.0.1:9/',
    'ftp://127.0.0.1/',
    'http://',
    'javascript:alert(1)',
  ),
  allowedOrigins: fc.array(
    fc.constantFrom('https://news.example', 'http://127.0.0.1:8080', 'https://news.example/', 'null', '*'),
    { maxLength: 3 },
  ),
  since: fc.oneof(
    fc
      .date({ min: new Date('1900-01-01'), max: new Date('2200-01-01'), noInvalidDate: true })
      .map((d) => d.toISOString()),
    fc.constantFrom(
      '0000-01-01T00:00:00Z',
      '2026-02-30T00:00:00Z',
      '+275760-09-13T00:00:00.000Z',
      '2026-01-01T00:00:00+99:99',
    ),
  ),
};

function resolve(schema: JsonSchema, doc: OpenApiDocument): JsonSchema {
  let s = schema;
  for (let i = 0; s.$ref && i < 10; i++) {
    const name = s.$ref.replace('#/components/schemas/', '');
    s = doc.components?.schemas?.[name] ?? {};
  }
  return s;
}

function stringFor(s: JsonSchema): fc.Arbitrary<string> {
  const min = s.minLength ?? 0;
  const max = Math.max(min, Math.min(s.maxLength ?? 40, 60));
  if (s.format === 'uuid') return fc.uuid();
  if (s.format === 'email') return fc.emailAddress();
  if (s.format === 'date-time') {
    return fc
      .date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true })
      .map((d) => d.toISOString());
  }
  if (s.pattern) {
    try {
      return fc.stringMatching(new RegExp(s.pattern)).map((x) => x.slice(0, Math.max(max, 64)));
    } catch {
      // A pattern fast-check cannot generate from: plain strings will do.
    }
  }
  const plain = fc.oneof(
    fc.string({ minLength: min, maxLength: max }),
    fc.string({ unit: 'grapheme', minLength: min, maxLength: max }),
    fc.string({ unit: 'binary', minLength: min, maxLength: max }),
  );
  // Within the length limits, but with a character a database or a log line would choke on.
  const poisoned = fc
    .tuple(plain, fc.constantFrom('\u0000', '\ud800', '\u0007', '\u2028', '\r\n'))
    .map(([x, bad]) => `${x}${bad}`.slice(-Math.max(max, 1)));
  return fc.oneof({ weight: 4, arbitrary: plain }, { weight: 1, arbitrary: poisoned });
}

/**
 * Values for `schema`: mostly conforming, with a hostile value in place of any node, required keys
 * sometimes missing and hostile extra keys (`__proto__`, `constructor`) sometimes added.
 */
export function valueFor(
  schema: JsonSchema,
  doc: OpenApiDocument,
  name = '',
  depth = 0,
): fc.Arbitrary<unknown> {
  const s = resolve(schema, doc);
  const conforming = conformingFor(s, doc, name, depth);
  return fc.oneof({ weight: 14, arbitrary: conforming }, { weight: 1, arbitrary: hostileValue });
}

function conformingFor(
  s: JsonSchema,
  doc: OpenApiDocument,
  name: string,
  depth: number,
): fc.Arbitrary<unknown> {
  if (HINTS[name]) return HINTS[name];
  if (s.enum?.length) return fc.constantFrom(...s.enum);
  const alternatives = s.anyOf ?? s.oneOf;
  if (alternatives?.length) return fc.oneof(...alternatives.map((a) => valueFor(a, doc, name, depth + 1)));
  if (s.allOf?.length) {
    const merged = s.allOf.map((a) => resolve(a, doc));
    return conformingFor(
      {
        type: 'object',
        properties: Object.assign({}, ...merged.map((m) => m.properties ?? {})),
        required: merged.flatMap((m) => m.required ?? []),
      },
      doc,
      name,
      depth,
    );
  }
  const types = Array.isArray(s.type) ? s.type : s.type ? [s.type] : [];
  if (!types.length) return s.properties ? objectFor(s, doc, depth) : hostileValue;
  return fc.oneof(
    ...types.map((type): fc.Arbitrary<unknown> => {
      switch (type) {
        case 'string':
          return stringFor(s);
        case 'integer':
          return fc.integer({ min: s.minimum ?? -1_000_000, max: s.maximum ?? 1_000_000 });
        case 'number':
          return fc.double({ min: s.minimum ?? -1e6, max: s.maximum ?? 1e6, noNaN: true });
        case 'boolean':
          return fc.boolean();
        case 'null':
          return fc.constant(null);
        case 'array':
          if (depth > 4) return fc.constant([]);
          return fc.array(valueFor(s.items ?? {}, doc, '', depth + 1), {
            minLength: Math.min(s.minItems ?? 0, 5),
            maxLength: Math.max(Math.min(s.minItems ?? 0, 5), Math.min(s.maxItems ?? 4, 4)),
          });
        default:
          return depth > 4 ? fc.constant({}) : objectFor(s, doc, depth);
      }
    }),
  );
}

const MISSING = Symbol('missing');

/** `arb` about one time in eight, `otherwise` the rest. */
function rarely<T>(arb: fc.Arbitrary<T>, otherwise: T): fc.Arbitrary<T> {
  return fc.oneof({ weight: 7, arbitrary: fc.constant(otherwise) }, { weight: 1, arbitrary: arb });
}

function objectFor(
  s: JsonSchema,
  doc: OpenApiDocument,
  depth: number,
): fc.Arbitrary<Record<string, unknown>> {
  const required = new Set(s.required ?? []);
  const known = Object.entries(s.properties ?? {}).map(([k, p]) =>
    fc
      .option(valueFor(p, doc, k, depth + 1), { nil: MISSING, freq: required.has(k) ? 20 : 2 })
      .map((v) => [k, v] as [string, unknown]),
  );
  const additional =
    typeof s.additionalProperties === 'object'
      ? fc.array(
          fc.tuple(
            fc.oneof(
              fc.constantFrom('spam', 'toxicity', 'links', ...HOSTILE_KEYS),
              fc.string({ maxLength: 10 }),
            ),
            valueFor(s.additionalProperties, doc, '', depth + 1),
          ),
          { maxLength: 3 },
        )
      : fc.constant([] as Array<[string, unknown]>);
  const extra = rarely(
    fc.array(fc.tuple(hostileKey, hostileValue), { minLength: 1, maxLength: 3 }),
    [] as Array<[string, unknown]>,
  );
  return fc
    .tuple(fc.tuple(...known), additional, extra)
    .map(([k, a, e]) => ownObject([...k.filter(([, v]) => v !== MISSING), ...a, ...e]));
}

/** A path segment: text to percent-encode, or raw bytes of the URL (malformed escapes, dot segments). */
export type Segment = { text: string } | { raw: string } | { fixture: number };

const RAW_SEGMENTS = [
  '..',
  '.',
  '%00',
  '%2F',
  '%2e%2e',
  '%2e%2e%2f%2e%2e',
  '%',
  '%zz',
  '%E0%A4%A',
  '%C0%AE',
  '%FF%FE',
  '%u0000',
  '%0A',
  '%20',
  ';',
  '~',
];

/** Hostile path segments; `fixture` picks one of the real ids the test provides for this parameter. */
export function segmentFor(schema: JsonSchema, doc: OpenApiDocument, name: string): fc.Arbitrary<Segment> {
  return fc.oneof(
    { weight: 20, arbitrary: fc.nat(31).map((i) => ({ fixture: i })) },
    { weight: 2, arbitrary: stringOf(resolve(schema, doc)).map((text) => ({ text })) },
    { weight: 2, arbitrary: fc.constantFrom(...RAW_SEGMENTS).map((raw) => ({ raw })) },
    // Ids that name Object.prototype members: a lookup in a plain object finds something for them.
    { weight: 2, arbitrary: fc.constantFrom(...PROTOTYPE_KEYS).map((text) => ({ text })) },
    {
      weight: 3,
      arbitrary: fc
        .oneof(
          fc.constantFrom(...HOSTILE_STRINGS.filter((s) => s.length < 3_000), 'x'.repeat(5_000), `{${name}}`),
          fc.string({ unit: 'binary', maxLength: 60 }),
          fc.uuid().map((u) => u.toUpperCase()),
        )
        .map((text) => ({ text })),
    },
  );
}

/** Conforming text for a scalar schema (path and query values are text). */
function stringOf(s: JsonSchema): fc.Arbitrary<string> {
  if (s.enum?.length) return fc.constantFrom(...s.enum.map(String));
  const types = Array.isArray(s.type) ? s.type : [s.type];
  if (types.includes('integer') || types.includes('number')) {
    return fc.integer({ min: s.minimum ?? -1000, max: s.maximum ?? 1000 }).map(String);
  }
  if (types.includes('boolean')) return fc.boolean().map(String);
  return stringFor(s);
}

const HOSTILE_QUERY = [
  '',
  '-1',
  '0',
  '1.5',
  '1e400',
  '99999999999999999999999',
  '0x10',
  ' 5',
  'NaN',
  'Infinity',
  'true',
  '[]',
  '{"$gt":""}',
  'a'.repeat(5_000),
  '\u0000',
  '💥',
];

/** Query pairs for the operation's declared parameters, with junk values, repeats and junk keys. */
export function queryFor(
  params: Array<{ name: string; schema: JsonSchema }>,
  doc: OpenApiDocument,
): fc.Arbitrary<Array<[string, Segment]>> {
  const value = (p: { schema: JsonSchema }) =>
    fc.oneof(
      { weight: 8, arbitrary: stringOf(resolve(p.schema, doc)).map((text): Segment => ({ text })) },
      { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_QUERY).map((text): Segment => ({ text })) },
      { weight: 1, arbitrary: fc.constantFrom(...RAW_SEGMENTS).map((raw): Segment => ({ raw })) },
      {
        weight: 1,
        arbitrary: fc.string({ unit: 'binary', maxLength: 30 }).map((text): Segment => ({ text })),
      },
    );
  const declared = params.map((p) =>
    fc
      .option(fc.array(value(p), { minLength: 1, maxLength: 3 }), { nil: [], freq: 3 })
      .map((vs) => vs.map((v) => [p.name, v] as [string, Segment])),
  );
  const junk = rarely(
    fc.array(
      fc.tuple(
        fc.constantFrom(
          '__proto__',
          'constructor',
          `__proto__[${POLLUTION_MARK}]`,
          `constructor[prototype][${POLLUTION_MARK}]`,
          'limit[]',
          '',
          'a'.repeat(500),
        ),
        fc.constantFrom(...HOSTILE_QUERY).map((text): Segment => ({ text })),
      ),
      { minLength: 1, maxLength: 2 },
    ),
    [] as Array<[string, Segment]>,
  );
  return fc.tuple(fc.tuple(...declared), junk).map(([d, j]) => [...d.flat(), ...j]);
}

/** A request body: JSON text from the schema or hostile, garbage text, or bytes that are not UTF-8. */
export type Body = { kind: 'none' } | { kind: 'json'; value: unknown } | { kind: 'bytes'; bytes: Uint8Array };

const enc = new TextEncoder();
const RAW_BODIES: Body[] = [
  { kind: 'bytes', bytes: new Uint8Array() },
  { kind: 'bytes', bytes: enc.encode('{') },
  { kind: 'bytes', bytes: enc.encode('{"a":') },
  { kind: 'bytes', bytes: enc.encode('\ufeff{}') },
  { kind: 'bytes', bytes: enc.encode('{"a":1,"a":2}') },
  { kind: 'bytes', bytes: enc.encode('{} {}') },
  { kind: 'bytes', bytes: enc.encode("{'a': 1}") },
  { kind: 'bytes', bytes: new Uint8Array([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]) },
  { kind: 'bytes', bytes: new Uint8Array([0xef, 0xbb, 0xbf, 0x7b, 0x7d]) },
  { kind: 'bytes', bytes: new Uint8Array([0xfe, 0xff, 0x00, 0x7b, 0x00, 0x7d]) },
  { kind: 'bytes', bytes: enc.encode(`{"a":"${'x'.repeat(70 * 1024)}"}`) },
];

export function bodyFor(schema: JsonSchema | undefined, doc: OpenApiDocument): fc.Arbitrary<Body> {
  const json = (v: fc.Arbitrary<unknown>) => v.map((value): Body => ({ kind: 'json', value }));
  const garbage = fc
    .string({ unit: 'binary', maxLength: 200 })
    .map((s): Body => ({ kind: 'bytes', bytes: enc.encode(s) }));
  if (!schema) {
    return fc.oneof(
      { weight: 8, arbitrary: fc.constant<Body>({ kind: 'none' }) },
      { weight: 1, arbitrary: json(hostileValue) },
      { weight: 1, arbitrary: garbage },
    );
  }
  return fc.oneof(
    { weight: 12, arbitrary: json(valueFor(schema, doc)) },
    { weight: 3, arbitrary: json(hostileValue) },
    { weight: 1, arbitrary: garbage },
    { weight: 2, arbitrary: fc.constantFrom(...RAW_BODIES) },
    { weight: 1, arbitrary: fc.constant<Body>({ kind: 'none' }) },
  );
}

export function bodyBytes(body: Body): Uint8Array | undefined {
  if (body.kind === 'none') return undefined;
  if (body.kind === 'bytes') return body.bytes;
  return enc.encode(toJson(body.value));
}

/**
 * Content-Type (and sometimes Content-Encoding) headers: mostly JSON, often not. For an operation
 * without a request body, mostly none at all.
 */
export function contentHeadersFor(hasBody: boolean): fc.Arbitrary<Record<string, string>> {
  return hasBody ? contentHeaders : rarely(contentHeaders, {});
}

const contentHeaders: fc.Arbitrary<Record<string, string>> = fc
  .tuple(
    fc.oneof(
      { weight: 8, arbitrary: fc.constant<string | undefined>('application/json') },
      {
        weight: 3,
        arbitrary: fc.constantFrom<string | undefined>(
          undefined,
          'text/plain',
          'application/x-www-form-urlencoded',
          'multipart/form-data; boundary=x',
          'application/json; charset=utf-16',
          'application/json; charset=latin1',
          'application/json; charset="utf-8"',
          'APPLICATION/JSON',
          'application/vnd.api+json',
          'application/json;;;',
          'application/jsonp',
          'application/json, text/plain',
          '*/*',
          '',
        ),
      },
    ),
    rarely(fc.constantFrom<string | null>('gzip', 'br', 'identity', 'gzip, identity'), null),
  )
  .map(([type, encoding]) => ({
    ...(type === undefined ? {} : { 'content-type': type }),
    ...(encoding === null ? {} : { 'content-encoding': encoding }),
  }));

export interface OpenApiDocument {
  paths: Record<
    string,
    Record<
      string,
      {
        parameters?: Array<{ name: string; in: string; schema: JsonSchema; required?: boolean }>;
        requestBody?: { content: Record<string, { schema: JsonSchema }> };
        security?: Array<Record<string, string[]>>;
      }
    >
  >;
  components?: { schemas?: Record<string, JsonSchema> };
}
