// The rules Envoy's requests are decided by, in envoyproxy/ratelimit's YAML format (one domain
// per file: nested descriptors of key and optional value, `*` wildcards in values, rate_limit
// {unit, requests_per_unit, unlimited, name, replaces}, shadow_mode, share_threshold), so that
// operators bring their files unchanged, plus two extensions: `window: 10m` (any duration, in
// place of `unit`) and `rate_limits: [...]` (several limits on one descriptor). Parsing and
// matching only: no Redis, no gRPC. envoy.ts decides with it; envoy-watch.ts reloads it.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { MAX_WINDOW_MS } from './policies';

/** Upper bound of requests_per_unit: the script keeps the last `limit` hit times of a counter (4-6 bytes each). */
export const MAX_ENVOY_LIMIT = 10_000;

/** Envoy's fixed units (RateLimitResponse.RateLimit.Unit) and their length. */
export const UNITS = { SECOND: 1000, MINUTE: 60_000, HOUR: 3_600_000, DAY: 86_400_000 } as const;
export type EnvoyUnit = keyof typeof UNITS;

export interface EnvoyLimit {
  /** requests_per_unit: hits admitted per window; 0 refuses everything. */
  limit: number;
  windowMs: number;
  /** The unit Envoy is told: the window's when it is exactly one unit, else undefined (UNKNOWN). */
  unit: EnvoyUnit | undefined;
  /** rate_limit.name ('' when none): what `replaces` refers to, sent as current_limit.name. */
  name: string;
  replaces: string[];
}

export interface EnvoyRule {
  /** `<domain>.<key>_<value>.<key>` as envoyproxy/ratelimit names the rule (its stats key). */
  statKey: string;
  /** The same, one element per level: [domain, level 1, level 2, …]. */
  statPath: string[];
  /** The rule's limits; empty when unlimited. */
  limits: EnvoyLimit[];
  unlimited: boolean;
  shadow: boolean;
}

interface Node extends EnvoyRule {
  key: string;
  /** The configured value; undefined = any value (one counter per value seen). */
  value: string | undefined;
  /** The value split on '*' when it has wildcards. */
  parts: string[] | undefined;
  shareThreshold: boolean;
  /** Whether the descriptor has a rate_limit block (a rule), or only nested descriptors. */
  hasLimit: boolean;
  children: Level;
}

interface Level {
  exact: Map<string, Node>;
  wildcards: Node[];
  anyValue: Map<string, Node>;
}

export interface EnvoyMatch {
  rule: EnvoyRule;
  /**
   * The counter's identity: the request's entries, except that an entry matched by a
   * share_threshold wildcard counts as its pattern (every matching value shares one counter).
   */
  counter: Array<{ key: string; value: string }>;
}

export class EnvoyConfigError extends Error {
  override name = 'EnvoyConfigError';
}

const newLevel = (): Level => ({ exact: new Map(), wildcards: [], anyValue: new Map() });
const exactKey = (key: string, value: string) => `${key}\u0000${value}`;

/** envoyproxy/ratelimit's wildcard: each `*` matches zero or more characters, segments in order. */
export function wildcardMatch(parts: string[], value: string): boolean {
  if (parts.length === 1) return parts[0] === value;
  const first = parts[0]!;
  const last = parts[parts.length - 1]!;
  if (!value.startsWith(first) || !value.endsWith(last)) return false;
  if (value.length < parts.reduce((n, p) => n + p.length, 0)) return false;
  let rest = value.slice(first.length, value.length - last.length);
  for (const part of parts.slice(1, -1)) {
    const at = rest.indexOf(part);
    if (at < 0) return false;
    rest = rest.slice(at + part.length);
  }
  return true;
}

/** `10m`, `1h30m`, `500ms`, `7d`: a sum of integers with units ms, s, m, h, d. */
export function parseWindow(text: string): number {
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  if (!/^(?:\d{1,10}(?:ms|[smhd]))+$/.test(text)) throw new Error(`window "${text}" is not a duration such as 10m, 90s, 1h30m, 7d`);
  let ms = 0;
  for (const m of text.matchAll(/(?<!\d)(\d+)(ms|[smhd])/g)) ms += Number(m[1]) * unit[m[2]!]!;
  if (ms < 1 || ms > MAX_WINDOW_MS) throw new Error(`window "${text}" must be 1 ms to 31 days`);
  return ms;
}

const ROOT_KEYS = new Set(['domain', 'descriptors']);
const DESCRIPTOR_KEYS = new Set([
  'key',
  'value',
  'rate_limit',
  'rate_limits',
  'descriptors',
  'shadow_mode',
  'share_threshold',
  'detailed_metric',
  'value_to_metric',
  'metadata',
]);
const LIMIT_KEYS = new Set(['unit', 'requests_per_unit', 'unlimited', 'name', 'replaces', 'window']);

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** One parsed file: a domain and its descriptor tree. */
interface DomainConfig {
  domain: string;
  root: Level;
  file: string;
}

function fail(file: string, where: string, why: string): never {
  throw new EnvoyConfigError(`${file}: ${where ? `${where}: ` : ''}${why}`);
}

function checkKeys(file: string, where: string, o: Obj, allowed: Set<string>): void {
  for (const k of Object.keys(o)) {
    if (k === 'quota_mode') fail(file, where, 'quota_mode is not supported');
    if (!allowed.has(k)) fail(file, where, `unknown key '${k}'`);
  }
}

function parseLimit(file: string, where: string, o: unknown, allowUnlimited: boolean): EnvoyLimit | 'unlimited' {
  if (!isObj(o)) fail(file, where, 'must be a mapping');
  checkKeys(file, where, o, LIMIT_KEYS);
  if (o.unlimited === true) {
    if (!allowUnlimited) fail(file, where, 'unlimited is only allowed in rate_limit');
    if (o.unit !== undefined || o.window !== undefined || o.requests_per_unit !== undefined)
      fail(file, where, 'should not specify a unit, window or requests_per_unit when unlimited');
    return 'unlimited';
  }
  if (o.unlimited !== undefined && o.unlimited !== false) fail(file, where, 'unlimited must be true or false');
  let windowMs: number;
  let unit: EnvoyUnit | undefined;
  if (o.window !== undefined) {
    if (o.unit !== undefined) fail(file, where, 'give either unit or window, not both');
    if (typeof o.window !== 'string') fail(file, where, 'window must be a duration such as 10m');
    try {
      windowMs = parseWindow(o.window);
    } catch (err) {
      fail(file, where, (err as Error).message);
    }
    unit = (Object.keys(UNITS) as EnvoyUnit[]).find((u) => UNITS[u] === windowMs);
  } else {
    const u = typeof o.unit === 'string' ? o.unit.toUpperCase() : '';
    if (!(u in UNITS))
      fail(file, where, `invalid rate limit unit '${String(o.unit)}' (second, minute, hour, day, or a window such as 10m)`);
    unit = u as EnvoyUnit;
    windowMs = UNITS[unit];
  }
  const n = o.requests_per_unit;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > MAX_ENVOY_LIMIT)
    fail(file, where, `requests_per_unit must be an integer 0-${MAX_ENVOY_LIMIT}`);
  if (o.name !== undefined && typeof o.name !== 'string') fail(file, where, 'name must be a string');
  const name = o.name ?? '';
  const replaces: string[] = [];
  if (o.replaces !== undefined) {
    if (!Array.isArray(o.replaces)) fail(file, where, 'replaces must be a list of {name}');
    for (const r of o.replaces) {
      if (!isObj(r) || typeof r.name !== 'string' || r.name === '') fail(file, where, 'should not have an empty replaces entry');
      if (r.name === name) fail(file, where, 'replaces should not contain name of same descriptor');
      replaces.push(r.name);
    }
  }
  return { limit: n, windowMs, unit, name, replaces };
}

function loadLevel(file: string, path: string, statPrefix: string[], list: unknown, into: Level): void {
  if (list === undefined || list === null) return;
  if (!Array.isArray(list)) fail(file, path, 'descriptors must be a list');
  list.forEach((d, i) => {
    const where = `${path}[${i}]`;
    if (!isObj(d)) fail(file, where, 'a descriptor must be a mapping');
    checkKeys(file, where, d, DESCRIPTOR_KEYS);
    if (typeof d.key !== 'string' || d.key === '') fail(file, where, 'descriptor has empty key');
    if (d.value !== undefined && typeof d.value !== 'string' && typeof d.value !== 'number' && typeof d.value !== 'boolean')
      fail(file, where, 'value must be a string');
    const value = d.value === undefined || d.value === '' ? undefined : String(d.value);
    for (const flag of ['shadow_mode', 'share_threshold', 'detailed_metric', 'value_to_metric'] as const) {
      if (d[flag] !== undefined && typeof d[flag] !== 'boolean') fail(file, where, `${flag} must be true or false`);
    }
    const shareThreshold = d.share_threshold === true;
    const parts = value?.includes('*') ? value.split('*') : undefined;
    if (shareThreshold && !parts) fail(file, where, "share_threshold can only be used with wildcard values (containing '*')");

    let limits: EnvoyLimit[] = [];
    let unlimited = false;
    const hasLimit = d.rate_limit !== undefined || d.rate_limits !== undefined;
    if (d.rate_limit !== undefined && d.rate_limits !== undefined) fail(file, where, 'give either rate_limit or rate_limits, not both');
    if (d.rate_limit !== undefined) {
      const l = parseLimit(file, `${where}.rate_limit`, d.rate_limit, true);
      if (l === 'unlimited') unlimited = true;
      else limits = [l];
    } else if (d.rate_limits !== undefined) {
      if (!Array.isArray(d.rate_limits) || d.rate_limits.length === 0) fail(file, where, 'rate_limits must be a non-empty list');
      limits = d.rate_limits.map((l, j) => parseLimit(file, `${where}.rate_limits[${j}]`, l, false) as EnvoyLimit);
      const windows = new Set(limits.map((l) => l.windowMs));
      if (windows.size !== limits.length)
        fail(file, where, 'two limits of one descriptor have the same window (the smaller one alone decides)');
    }

    const finalKey = value === undefined ? d.key : `${d.key}_${value}`;
    const node: Node = {
      key: d.key,
      value,
      parts,
      shareThreshold,
      hasLimit,
      statKey: [...statPrefix, finalKey].join('.'),
      statPath: [...statPrefix, finalKey],
      limits,
      unlimited,
      shadow: d.shadow_mode === true,
      children: newLevel(),
    };
    const taken =
      value === undefined
        ? into.anyValue.has(d.key)
        : parts
          ? into.wildcards.some((w) => w.key === d.key && w.value === value)
          : into.exact.has(exactKey(d.key, value));
    if (taken) fail(file, where, `duplicate descriptor composite key '${node.statKey}'`);
    if (value === undefined) into.anyValue.set(d.key, node);
    else if (parts) into.wildcards.push(node);
    else into.exact.set(exactKey(d.key, value), node);
    loadLevel(file, `${where}.descriptors`, node.statPath, d.descriptors, node.children);
  });
}

function parseFile(file: string, text: string): DomainConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    fail(file, '', `not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (!isObj(doc)) fail(file, '', 'expected a mapping with domain and descriptors');
  checkKeys(file, '', doc, ROOT_KEYS);
  if (typeof doc.domain !== 'string' || doc.domain === '') fail(file, '', 'config file cannot have empty domain');
  const root = newLevel();
  loadLevel(file, 'descriptors', [doc.domain], doc.descriptors, root);
  return { domain: doc.domain, root, file };
}

/** A loaded configuration: every domain of a directory. Immutable; a reload builds a new one. */
export class EnvoyConfig {
  private constructor(
    private readonly domains: Map<string, Level>,
    /** The files it was read from, sorted. */
    readonly files: string[],
  ) {}

  static empty(): EnvoyConfig {
    return new EnvoyConfig(new Map(), []);
  }

  /** Parses files ({name, text}); throws an EnvoyConfigError naming the file and the place. */
  static parse(files: Array<{ name: string; text: string }>): EnvoyConfig {
    const domains = new Map<string, Level>();
    const seen = new Map<string, string>();
    for (const f of files) {
      const d = parseFile(f.name, f.text);
      const other = seen.get(d.domain);
      if (other !== undefined) fail(f.name, '', `duplicate domain '${d.domain}' (also in ${other})`);
      seen.set(d.domain, f.name);
      domains.set(d.domain, d.root);
    }
    return new EnvoyConfig(
      domains,
      files.map((f) => f.name),
    );
  }

  /** Every *.yaml / *.yml file of a directory (not its subdirectories), in name order. */
  static loadDir(dir: string): EnvoyConfig {
    let names: string[];
    try {
      names = readdirSync(dir, { withFileTypes: true })
        .filter((e) => (e.isFile() || e.isSymbolicLink()) && /\.ya?ml$/.test(e.name) && !e.name.startsWith('.'))
        .map((e) => e.name)
        .sort();
    } catch (err) {
      throw new EnvoyConfigError(`cannot read the directory ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    return EnvoyConfig.parse(
      names.map((name) => {
        try {
          return { name, text: readFileSync(join(dir, name), 'utf8') };
        } catch (err) {
          throw new EnvoyConfigError(`${name}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
        }
      }),
    );
  }

  get domainNames(): string[] {
    return [...this.domains.keys()];
  }

  /**
   * The rule for one descriptor, as envoyproxy/ratelimit finds it: level by level, the entry's
   * key and value first, then a wildcard value (in file order), then the key alone; a rule
   * applies only when it sits at the descriptor's last entry.
   */
  match(domain: string, entries: ReadonlyArray<{ key: string; value: string }>): EnvoyMatch | undefined {
    let level: Level | undefined = this.domains.get(domain);
    if (!level) return undefined;
    let found: Node | undefined;
    let shared: Map<number, string> | undefined;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      let node: Node | undefined = level.exact.get(exactKey(e.key, e.value));
      if (!node) {
        node = level.wildcards.find((w) => w.key === e.key && wildcardMatch(w.parts!, e.value));
        if (node?.shareThreshold) (shared ??= new Map()).set(i, node.value!);
      }
      node ??= level.anyValue.get(e.key);
      if (!node) break;
      if (node.hasLimit && i === entries.length - 1) found = node;
      const c: Level = node.children;
      if (c.exact.size === 0 && c.wildcards.length === 0 && c.anyValue.size === 0) break;
      level = c;
    }
    if (!found) return undefined;
    const counter = entries.map((e, i) => ({ key: e.key, value: shared?.get(i) ?? e.value }));
    return { rule: found, counter };
  }
}
