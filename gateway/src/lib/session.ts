// One request's session as plain data: the logged-in user, the CSRF token, a flash message,
// and what the middleware must write back (middleware/session.ts stores it in Redis).
import { randomBytes } from 'node:crypto';

export interface SessionUser {
  id: string;
  firstName: string;
  lastName: string;
  email: string;
  role: 'STUDENT' | 'ADMIN';
}

export interface Flash {
  kind: 'succes' | 'info' | 'erreur';
  text: string;
}

export interface SessionData {
  /** Synchronizer CSRF token of this session. */
  csrf: string;
  /** Creation time (ms since epoch), for the absolute timeout. */
  createdAt: number;
  user?: SessionUser;
  /** A message shown once on the next page (after a redirect). */
  flash?: Flash;
}

export function newSessionId(): string {
  return randomBytes(32).toString('base64url');
}

function newToken(): string {
  return randomBytes(32).toString('base64url');
}

export class Session {
  private id: string | undefined;
  private data: SessionData | undefined;
  private dirty = false;
  private isNew = false;
  /** Ids to delete from Redis at commit (destroyed or rotated away). */
  private readonly dropped: string[] = [];
  private cookieToClear = false;
  private down = false;

  constructor(loaded?: { id: string; data: SessionData }) {
    if (loaded) {
      this.id = loaded.id;
      this.data = loaded.data;
    }
  }

  /**
   * True when the session store could not be reached for this request: the page answers as for
   * a visitor, with a notice, and nothing is written back (the cookie is kept for later).
   */
  get storeDown(): boolean {
    return this.down;
  }

  /** This request goes on without the store, as a visitor (public pages only; the middleware decides). */
  markStoreDown(): void {
    this.down = true;
  }

  get exists(): boolean {
    return this.data !== undefined;
  }

  get user(): SessionUser | undefined {
    return this.data?.user;
  }

  /** The session's CSRF token, when it has a session. */
  get csrf(): string | undefined {
    return this.data?.csrf;
  }

  /** The session, created (anonymous, with a fresh CSRF token) when there is none yet. */
  ensure(): SessionData {
    if (!this.data) {
      this.id = newSessionId();
      this.data = { csrf: newToken(), createdAt: Date.now() };
      this.isNew = true;
      this.dirty = true;
    }
    return this.data;
  }

  /** A new id and CSRF token for a new identity (login): the old id stops working at once. */
  regenerate(user: SessionUser): void {
    if (this.id && !this.isNew) this.dropped.push(this.id);
    this.id = newSessionId();
    this.data = { csrf: newToken(), createdAt: Date.now(), user };
    this.isNew = true;
    this.dirty = true;
  }

  /** Ends the session server-side and clears the cookie (logout). */
  destroy(): void {
    if (this.id && !this.isNew) this.dropped.push(this.id);
    this.id = undefined;
    this.data = undefined;
    this.isNew = false;
    this.dirty = false;
    this.cookieToClear = true;
  }

  setFlash(flash: Flash): void {
    this.ensure().flash = flash;
    this.dirty = true;
  }

  /** The flash message, removed from the session. */
  takeFlash(): Flash | undefined {
    const f = this.data?.flash;
    if (f && this.data) {
      delete this.data.flash;
      this.dirty = true;
    }
    return f;
  }

  /**
   * Writes the session now (login, logout), so that a store failure fails the request instead of
   * being noticed after the response was decided. Set by the middleware.
   */
  save: () => Promise<void> = async () => undefined;

  /** @internal what the commit must do; `done()` marks it written. */
  pending() {
    return {
      id: this.id,
      data: this.data,
      dirty: this.dirty,
      isNew: this.isNew,
      dropped: this.dropped.splice(0),
      clear: this.cookieToClear,
      done: () => {
        this.dirty = false;
        this.isNew = false;
        this.cookieToClear = false;
      },
    };
  }
}

