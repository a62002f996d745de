// A state-changing request whose body is in a format no route reads (text/plain, XML…) is refused
// with 415 (after the same-origin check, before the CSRF token's): otherwise its fields, `_csrf`
// included, would read as missing and the user would be told their form had expired. Forms
// (urlencoded, multipart) and JSON go on; a request without a body, or without a Content-Type, is
// left to the routes.
import type { Middleware } from 'koa';
import { HttpProblem } from '../lib/problem';
import { SAFE_METHODS } from './csrf';

const READ = ['urlencoded', 'multipart', 'json', '+json'];

export function bodyTypeMiddleware(): Middleware {
  return async (ctx, next) => {
    // ctx.is: null without a body, false for a body of another type (or of no declared type:
    // those, often an empty chunked body, are left to the routes and the token check)
    if (!SAFE_METHODS.has(ctx.method) && ctx.get('Content-Type') !== '' && ctx.is(READ) === false) {
      throw new HttpProblem(
        415,
        'format_non_supporte',
        "Ce format d'envoi n'est pas pris en charge : envoyez le formulaire depuis le site (ou du JSON).",
        { title: 'Format non pris en charge' },
      );
    }
    await next();
  };
}
