// Client processes for the exactness tests: each runs a fixture (test/fixtures/*-burst.js) that
// connects to the limiter at `addr`, prints `ready`, then for every command line on its stdin
// fires its calls at once and prints one line of results.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { TEST_TOKEN } from '@etu/testkit';

export interface BurstClient {
  proc: ChildProcessByStdio<Writable, Readable, null>;
  /** The process's next output line; rejects if it exits first. */
  next(): Promise<string>;
}

export function startBurstClient(fixture: string, addr: string): BurstClient {
  const proc = spawn(process.execPath, [join(__dirname, 'fixtures', fixture)], {
    env: { ...process.env, LIMITER_ADDR: addr, INTERNAL_TOKEN: TEST_TOKEN },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  const waiters: Array<(l: string) => void> = [];
  createInterface({ input: proc.stdout }).on('line', (l) => {
    const w = waiters.shift();
    if (w) w(l);
    else lines.push(l);
  });
  const exited = new Promise<string>((_, reject) => proc.once('exit', (code) => reject(new Error(`client process exited (${code})`))));
  exited.catch(() => {});
  return {
    proc,
    next: () => Promise.race([lines.length ? Promise.resolve(lines.shift()!) : new Promise<string>((r) => waiters.push(r)), exited]),
  };
}

/** Ends each client's input and waits for every process to exit. */
export async function stopBurstClients(clients: BurstClient[]): Promise<void> {
  for (const c of clients) c.proc.stdin.end();
  await Promise.all(clients.map((c) => new Promise((r) => (c.proc.exitCode !== null ? r(null) : c.proc.once('exit', r)))));
}
