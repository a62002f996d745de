// The Envoy rules of a directory, reloaded when it changes (fs.watch: an edit, a new or removed
// file, a Kubernetes ConfigMap's symlink swap). A file that does not load keeps the last good
// configuration: the reason is logged and counted, nothing else changes. Requests read
// `current` once each (envoy.ts), so a reload never splits a request between two configurations.
import { watch, type FSWatcher } from 'node:fs';
import type { Logger } from '@etu/common';
import { EnvoyConfig, EnvoyConfigError } from './envoy-config';

export interface ConfigLoadCounter {
  configLoad(ok: boolean): void;
}

export class EnvoyConfigSource {
  private config: EnvoyConfig;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Resolved after each reload attempt (tests and operators wait on it through `reloaded`). */
  private waiters: Array<(ok: boolean) => void> = [];

  /** Loads the directory now; throws an EnvoyConfigError when it does not load (start-up fails). */
  constructor(
    readonly dir: string,
    private readonly log: Logger,
    private readonly counter: ConfigLoadCounter,
    private readonly debounceMs = 100,
  ) {
    this.config = EnvoyConfig.loadDir(dir);
    counter.configLoad(true);
    log.info({ dir, files: this.config.files, domains: this.config.domainNames }, 'envoy rate limit configuration loaded');
    this.warnIfEmpty();
  }

  /** No domain: every Envoy request is answered OK, which is rarely what was meant. */
  private warnIfEmpty(): void {
    if (this.config.domainNames.length === 0)
      this.log.warn({ dir: this.dir }, 'envoy rate limit configuration has no domain: every request is answered OK');
  }

  get current(): EnvoyConfig {
    return this.config;
  }

  /** Starts watching the directory. */
  watch(): void {
    this.watcher = watch(this.dir, () => this.schedule());
    this.watcher.on('error', (err) =>
      this.log.error({ err: err.message, dir: this.dir }, 'envoy configuration directory cannot be watched'),
    );
  }

  private schedule(): void {
    // An editor or a ConfigMap update is several events: load once they have settled.
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.reload(), this.debounceMs);
  }

  /** Loads the directory again; returns whether the new configuration is in force. */
  reload(): boolean {
    let ok: boolean;
    try {
      this.config = EnvoyConfig.loadDir(this.dir);
      ok = true;
      this.log.info(
        { dir: this.dir, files: this.config.files, domains: this.config.domainNames },
        'envoy rate limit configuration reloaded',
      );
      this.warnIfEmpty();
    } catch (err) {
      if (!(err instanceof EnvoyConfigError)) throw err;
      ok = false;
      this.log.error(
        { dir: this.dir, reason: err.message },
        'envoy rate limit configuration not reloaded: the last good one stays in force',
      );
    }
    this.counter.configLoad(ok);
    for (const w of this.waiters.splice(0)) w(ok);
    return ok;
  }

  /** Resolves with the outcome of the next reload attempt. */
  nextReload(): Promise<boolean> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  close(): void {
    clearTimeout(this.timer);
    this.watcher?.close();
    this.watcher = undefined;
  }
}
