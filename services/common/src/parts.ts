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
  health: string;
  /** What deploy/start.sh runs, `node <line>` each. */
  run: string[];
}

/** parts.json sits at the repository root: ../../../ from services/common/{src,dist}. */
export const PARTS_FILE = join(__dirname, '..', '..', '..', 'parts.json');

let cached: readonly PartInfo[] | undefined;

export function listParts(): readonly PartInfo[] {
  cached ??= (JSON.parse(readFileSync(PARTS_FILE, 'utf8')) as { parts: PartInfo[] }).parts;
  return cached;
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
