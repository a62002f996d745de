// One request's session as plain data: the logged-in user and the CSRF token, which the
// middleware stores in Redis (middleware/session.ts), and a flash message, which travels in a
// signed cookie. A session exists only for a logged-in user: it is created at login
// (`regenerate`), never for a visitor, so anonymous traffic stores nothing (issue 21); the
// visitors' forms are protected by a stateless token (lib/form-token.ts).
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
  /** The flash message the browser brought (its cookie), until taken. */
  private incomingFlash: Flash | undefined;
  /** What the flash cookie must become: a message to set, `null` to clear, `undefined` unchanged. */
  private outgoingFlash: Flash | null | undefined;

  constructor(loaded?: { id: string; data: SessionData }, flash?: Flash) {
    if (loaded) {
      this.id = loaded.id;
      this.data = loaded.data;
    }
    this.incomingFlash = flash;
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

  /** A message for the next page (kept in a signed cookie, never in Redis). */
  setFlash(flash: Flash): void {
    this.outgoingFlash = flash;
  }

  /** The message to show now (one set during this request, else the browser's), then forgotten. */
  takeFlash(): Flash | undefined {
    if (this.outgoingFlash) {
      const f = this.outgoingFlash;
      this.outgoingFlash = this.incomingFlash ? null : undefined;
      this.incomingFlash = undefined;
      return f;
    }
    const f = this.incomingFlash;
    if (f) {
      this.incomingFlash = undefined;
      this.outgoingFlash = null;
    }
    return f;
  }

  /**
   * Writes the session now (login, logout), so that a store failure fails the request instead of
   * being noticed after the response was decided. Set by the middleware.
   */
  save: () => Promise<void> = () => Promise.resolve();

  /** @internal what the commit must do; `done()` marks it written. */
  pending() {
    return {
      id: this.id,
      data: this.data,
      dirty: this.dirty,
      isNew: this.isNew,
      dropped: this.dropped.splice(0),
      clear: this.cookieToClear,
      flash: this.outgoingFlash,
      done: () => {
        this.dirty = false;
        this.isNew = false;
        this.cookieToClear = false;
        this.outgoingFlash = undefined;
      },
    };
  }
}
