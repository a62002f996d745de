// Read-only access to parts.json at the repository root: the one list of the parts (name,
// folder, port, address variable, health). Local defaults (`make run`) come from here.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface PartInfo {
  name: string;
  folder: string;
  kind: 'grpc' | 'http';
  /** The variable that moves the part (`<SVC>_ADDR` for gRPC, `PORT` for the gateway). */
  addrVar: string;
  /** Local default port. */
  port: number;
  /** Default METRICS_PORT: the part's /metrics listener. */
  metricsPort: number;
  health: string;
  /** What deploy/start.sh runs, `node <line>` each. */
  run: string[];
}

/** parts.json sits at the repository root: ../../../ from services/common/{src,dist}. */
export const PARTS_FILE = join(__dirname, '..', '..', '..', 'parts.json');

interface PartsFile {
  parts: PartInfo[];
  localStores: Record<string, string>;
}

let cached: PartsFile | undefined;
const read = (): PartsFile => (cached ??= JSON.parse(readFileSync(PARTS_FILE, 'utf8')) as PartsFile);

export function listParts(): readonly PartInfo[] {
  return read().parts;
}

/** The store a local run uses when `variable` (DATABASE_URL, LIMITER_REDIS_URL...) is unset. */
export function localStore(variable: string): string {
  const url = read().localStores[variable];
  if (!url) throw new Error(`parts.json has no local default for ${variable}`);
  return url;
}

export function partInfo(name: string): PartInfo {
  const hit = listParts().find((p) => p.name === name);
  if (!hit) throw new Error(`parts.json lists no part named "${name}"`);
  return hit;
}

/** The local default address of a gRPC part, e.g. localAddress('auth') = '127.0.0.1:50051'. */
export function localAddress(name: string): string {
  return `127.0.0.1:${partInfo(name).port}`;
}
