// What the seller's own pages show (issue 19, item 3): the form that changes the price and the
// description of an unsold listing, and the confirmation before withdrawing it. Only the seller
// reaches them (403 for anyone else, 409 once sold); their POSTs are counted Vente calls.
import type { Ctx } from '../context';
import type { Wiring } from '../deps';
import { priceInput } from '../lib/format';
import { POLICY, quotaLine } from '../lib/limits';
import { HttpProblem } from '../lib/problem';
import type { SessionUser } from '../lib/session';
import type { View } from '../lib/views';
import { itemPage } from './articles';

/** The edit form as typed (shown back as is). */
export interface EditForm {
  prix: string;
  description: string;
}

export const NOT_YOURS = 'Seule la personne qui vend cet article peut le modifier ou le retirer.';
export const SOLD_UNCHANGEABLE = 'Cet article est vendu : il ne peut plus être modifié ni retiré.';

/** The listing `id` if `user` sells it and it is unsold, with the quota line; else 403 or 409 (404 when unknown). */
export async function ownListingPage(w: Wiring, ctx: Ctx, user: SessionUser, id: string, form?: EditForm) {
  const [page, decision] = await Promise.all([itemPage(w, ctx, id), w.quota.show(ctx, POLICY.service, user.id)]);
  if (!page.own) throw new HttpProblem(403, 'pas_votre_article', NOT_YOURS, { title: 'Action impossible' });
  if (page.item.sold) throw new HttpProblem(409, 'article_vendu', SOLD_UNCHANGEABLE, { title: 'Action impossible' });
  return {
    ...page,
    id,
    quota: quotaLine(decision, w.config.DISPLAY_TIME_ZONE),
    form: form ?? { prix: priceInput(page.raw.priceCents), description: page.raw.description },
  };
}

/** The edit page to show a refusal on, or `undefined` (the plain error page then: not the seller's, sold, gone). */
export async function editPageView(w: Wiring, ctx: Ctx, user: SessionUser, id: string, form: EditForm): Promise<View | undefined> {
  try {
    return { name: 'article-modifier.njk', data: await ownListingPage(w, ctx, user, id, form) };
  } catch {
    return undefined;
  }
}

/**
 * A refusal by the quota (429) shows the form as typed without asking the market anything, as the
 * sale's does: a refusal stays cheap however often it is repeated.
 */
export const refusedEditView = (id: string, form: EditForm): View => ({ name: 'article-modifier.njk', data: { id, form } });
export const refusedWithdrawView = (id: string): View => ({ name: 'article-retirer.njk', data: { id } });
