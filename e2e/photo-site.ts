// What the browser tests of photos share (e2e/photos.test.ts, e2e/seller.test.ts): the whole
// system with a photos folder of its own, students registered, Chromium open — started before the
// file's tests and stopped after them, the folder removed.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { openChromium, type OpenBrowser } from './chromium';
import { registerStudents, startWholeSystem, type RunningSystem } from './system';

export interface PhotoSite {
  sys: RunningSystem;
  page: Page;
  /** The gateway's PHOTOS_DIR. */
  photosDir: string;
}

/** jest hooks for the file: `ready` gets the running site once it is up. */
export function usePhotoSite(prefix: string, students: Parameters<typeof registerStudents>[1], ready: (site: PhotoSite) => void): void {
  let browser: OpenBrowser | undefined;
  let photosDir = '';
  let sys: RunningSystem | undefined;
  beforeAll(async () => {
    photosDir = mkdtempSync(join(tmpdir(), prefix));
    sys = await startWholeSystem({ PHOTOS_DIR: photosDir });
    await registerStudents(sys.databaseUrl, students);
    browser = await openChromium();
    ready({ sys, page: browser.page, photosDir });
  });
  afterAll(async () => {
    await browser?.close();
    await sys?.stop();
    if (photosDir) rmSync(photosDir, { recursive: true, force: true });
  });
}
