// Where a login or a sign-up brings the student back (`retour`, a query parameter of the login
// and sign-up pages, then a hidden field of their forms): only this site's own pages of a few
// known shapes. The value is matched whole by one anchored pattern of letters, digits and
// slashes, so it cannot name another site (`//evil`, `/\evil`, `https:`), climb (`/..`), or hide
// anything behind an encoding (`%2F`): whatever does not match sends to the default page.

/** Where a login or a sign-up lands without a (valid) `retour`. */
export const DEFAULT_AFTER_LOGIN = '/services';

// An item (the ids of pages/articles.ts), its purchase confirmation, the services, the purchases.
const RETURN_PATH = /^\/(?:services|achats|articles\/[1-9]\d{0,9}(?:\/acheter)?)$/;

/** `raw` when it is one of the known return paths, else undefined. */
export function returnPath(raw: string): string | undefined {
  return RETURN_PATH.test(raw) ? raw : undefined;
}

/** Where to send a student who just logged in or signed up, given the form's `retour`. */
export function afterLogin(raw: string): string {
  return returnPath(raw) ?? DEFAULT_AFTER_LOGIN;
}

/**
 * `page` (/login or /inscription) with `retour` when `from` is a known return path other than
 * the default page (which needs none): the link that brings the visitor back to `from`.
 */
export function withReturn(page: '/login' | '/inscription', from: string | undefined): string {
  const back = from === undefined ? undefined : returnPath(from);
  return back && back !== DEFAULT_AFTER_LOGIN ? `${page}?retour=${encodeURIComponent(back)}` : page;
}
