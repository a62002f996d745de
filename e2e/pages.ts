// Every page the site has, in one list: e2e/pages.test.ts opens each one in Chromium at 1280 and
// 390 px, checks its status, that the phone width does not scroll sideways, runs axe-core on it
// (no serious or critical violation) and keeps a screenshot of both widths in e2e/artifacts/
// (page-<name>.png, page-<name>-telephone.png). A new page gets one entry here.
import type { Page } from 'playwright-core';

/** Who looks at the page: a visitor (no session), a student, the admin. */
export type Viewer = 'visiteur' | 'etudiant' | 'admin';

/** What the test has made before opening the pages (e2e/pages.test.ts, beforeAll). */
export interface SiteFixture {
  url: string;
  /** An available item sold by another student than the one viewing. */
  itemId: string;
  /** An item sold to the student viewing. */
  boughtId: string;
  /** An available item of the student viewing (the seller's pages). */
  ownId: string;
  /** An account whose logins the test spends (the login refused by its quota), and the password of every account. */
  quotaEmail: string;
  password: string;
}

export interface SitePage {
  /** Short name, used in the screenshots' file names. */
  name: string;
  viewer: Viewer;
  /** The HTTP status the page answers with. */
  status: number;
  /** Opens the page; resolves with the status of the document's response. */
  open(page: Page, site: SiteFixture): Promise<number | undefined>;
  /** Text the page must show (checks the test opened the right page). */
  shows: string | RegExp;
  /** This page uses the viewer's service quota up; the pages after it see it spent. */
  spendsQuota?: boolean;
}

/** GET `path`; resolves with the status. */
export const visit =
  (path: string | ((s: SiteFixture) => string)) =>
  async (page: Page, site: SiteFixture): Promise<number | undefined> =>
    (await page.goto(`${site.url}${typeof path === 'string' ? path : path(site)}`))?.status();

/** Sends the form `form` of the current page by clicking `button`; resolves with the POST's status. */
export async function submit(page: Page, form: string, button: string, fill: Record<string, string> = {}): Promise<number> {
  for (const [selector, value] of Object.entries(fill)) {
    if ((await page.locator(selector).evaluate((e) => e.tagName)) === 'SELECT') await page.selectOption(selector, value);
    else await page.fill(selector, value);
  }
  const [resp] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && r.request().resourceType() === 'document'),
    page.click(`${form} ${button}`),
  ]);
  await page.waitForLoadState();
  return resp.status();
}

const SALE = { '#titre': 'Polycopié de statistiques', '#etat': 'bon', '#prix': '3,50', '#description': 'Annoté au crayon.' };

export const SITE_PAGES: SitePage[] = [
  // A visitor: browsing is free and needs no account.
  { name: 'accueil', viewer: 'visiteur', status: 200, open: visit('/'), shows: 'Derniers articles' },
  { name: 'articles', viewer: 'visiteur', status: 200, open: visit('/articles'), shows: ' disponible' },
  {
    name: 'recherche',
    viewer: 'visiteur',
    status: 200,
    open: visit('/articles?q=statistique&tri=prix_croissant'),
    shows: 'pour cette recherche',
  },
  { name: 'article', viewer: 'visiteur', status: 200, open: visit((s) => `/articles/${s.itemId}`), shows: 'Se connecter pour acheter' },
  { name: 'login', viewer: 'visiteur', status: 200, open: visit('/login'), shows: 'Connexion' },
  { name: 'inscription', viewer: 'visiteur', status: 200, open: visit('/inscription'), shows: 'Créer un compte' },
  {
    name: 'inscription-erreurs',
    viewer: 'visiteur',
    status: 400,
    open: async (page, site) => {
      await page.goto(`${site.url}/inscription`);
      return submit(page, 'main form', 'button[type=submit]', {
        '#prenom': 'Zoé',
        '#nom': 'Martin',
        '#email': 'zoe@etu.example',
        '#password': 'martin et ses amis',
      });
    },
    shows: 'Mot de passe',
  },
  { name: 'erreur-400-recherche', viewer: 'visiteur', status: 400, open: visit('/articles?prix_min=douze'), shows: 'Prix minimum' },
  {
    name: 'erreur-404',
    viewer: 'visiteur',
    status: 404,
    open: visit('/cette-page-n-existe-pas'),
    shows: "Cette page n'existe pas ou plus",
  },
  {
    name: 'erreur-404-article',
    viewer: 'visiteur',
    status: 404,
    open: visit('/articles/999999'),
    shows: "Cet article n'existe pas ou plus",
  },
  { name: 'mot-de-passe-oublie', viewer: 'visiteur', status: 200, open: visit('/mot-de-passe-oublie'), shows: 'Recevoir le lien' },
  {
    name: 'mot-de-passe-lien-expire',
    viewer: 'visiteur',
    status: 410,
    open: visit(`/mot-de-passe/nouveau?jeton=${'x'.repeat(43)}`),
    shows: 'Ce lien n’est plus valable',
  },
  { name: 'mentions-legales', viewer: 'visiteur', status: 200, open: visit('/mentions-legales'), shows: 'Sessions et cookies' },
  {
    // Last of the visitor's pages: it logs in and out until the account's 10 logins are spent.
    name: 'connexion-429',
    viewer: 'visiteur',
    status: 429,
    spendsQuota: true,
    open: async (page, site) => {
      for (let i = 0; ; i++) {
        await page.goto(`${site.url}/login`);
        if (new URL(page.url()).pathname !== '/login') {
          await page.click('button:has-text("Se déconnecter")');
          await page.goto(`${site.url}/login`);
        }
        const status = await submit(page, 'main form', 'button[type=submit]', { '#email': site.quotaEmail, '#password': site.password });
        if (status !== 303) return status;
        if (i > 12) throw new Error('the login quota never ran out');
      }
    },
    shows: 'Vous pourrez réessayer à partir de',
  },

  // A student, logged in.
  { name: 'accueil-connecte', viewer: 'etudiant', status: 200, open: visit('/'), shows: 'Aller aux services' },
  { name: 'services', viewer: 'etudiant', status: 200, open: visit('/services'), shows: 'Mes articles' },
  { name: 'article-connecte', viewer: 'etudiant', status: 200, open: visit((s) => `/articles/${s.itemId}`), shows: 'Acheter' },
  {
    name: 'article-achete',
    viewer: 'etudiant',
    status: 200,
    open: visit((s) => `/articles/${s.boughtId}`),
    shows: 'Vous avez acheté cet article.',
  },
  { name: 'achats', viewer: 'etudiant', status: 200, open: visit('/achats'), shows: 'Vendu par' },
  { name: 'compte', viewer: 'etudiant', status: 200, open: visit('/compte'), shows: 'Supprimer mon compte' },
  // The seller's own listing: its page, the change form (and a refused change), the withdrawal's confirmation.
  {
    name: 'article-vendeur',
    viewer: 'etudiant',
    status: 200,
    open: visit((s) => `/articles/${s.ownId}`),
    shows: 'Modifier le prix ou la description',
  },
  {
    name: 'article-modifier',
    viewer: 'etudiant',
    status: 200,
    open: visit((s) => `/articles/${s.ownId}/modifier`),
    shows: 'Enregistrer les modifications',
  },
  {
    name: 'article-modifier-erreur',
    viewer: 'etudiant',
    status: 400,
    open: async (page, site) => {
      await page.goto(`${site.url}/articles/${site.ownId}/modifier`);
      // The field's pattern is removed, as an older browser would ignore it: the gateway says why.
      await page.locator('#prix').evaluate((e) => e.removeAttribute('pattern'));
      return submit(page, `form[action="/articles/${site.ownId}/modifier"]`, 'button[type=submit]', { '#prix': 'vingt' });
    },
    shows: 'Indiquez un prix en euros',
  },
  {
    name: 'article-retirer',
    viewer: 'etudiant',
    status: 200,
    open: visit((s) => `/articles/${s.ownId}/retirer`),
    shows: 'Retirer définitivement',
  },
  {
    name: 'erreur-403-article',
    viewer: 'etudiant',
    status: 403,
    open: visit((s) => `/articles/${s.itemId}/modifier`),
    shows: 'Seule la personne qui vend cet article peut le modifier ou le retirer.',
  },
  {
    name: 'confirmation-achat',
    viewer: 'etudiant',
    status: 200,
    open: visit((s) => `/articles/${s.itemId}/acheter`),
    shows: "Confirmer l'achat",
  },
  {
    name: 'vente-erreur',
    viewer: 'etudiant',
    status: 400,
    open: async (page, site) => {
      await page.goto(`${site.url}/services`);
      // A title holding a right-to-left override (U+202E): the browser sends it, the gateway refuses it.
      return submit(page, 'form[action="/services/vente"]', 'button[type=submit]', { ...SALE, '#titre': 'Manuel \u202egnp' });
    },
    shows: 'Titre : le titre contient',
  },
  {
    name: 'vente-photo-erreur',
    viewer: 'etudiant',
    status: 400,
    open: async (page, site) => {
      // A text file disguised as a JPEG: refused beside the file input, before any quota call.
      await page.goto(`${site.url}/services`);
      await page.setInputFiles('#photos', [{ name: 'lampe.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('ceci est un texte') }]);
      return submit(page, 'form[action="/services/vente"]', 'button[type=submit]', SALE);
    },
    shows: 'La photo n’est pas une image JPEG, PNG ou WebP.',
  },
  {
    name: 'erreur-400',
    viewer: 'etudiant',
    status: 400,
    open: async (page, site) => {
      // A purchase form whose article id was tampered with: the plain French 400 page.
      await page.goto(`${site.url}/articles/${site.itemId}/acheter`);
      await page.locator('form[action="/services/achat"] input[name=article_id]').evaluate((e) => e.setAttribute('value', '../x'));
      return submit(page, 'form[action="/services/achat"]', 'button[type=submit]');
    },
    shows: 'Article inconnu',
  },
  {
    name: 'erreur-403',
    viewer: 'etudiant',
    status: 403,
    open: visit('/statistiques'),
    shows: "Cette page est réservée à l'équipe EtuServices.",
  },
  {
    name: 'erreur-429',
    viewer: 'etudiant',
    status: 429,
    spendsQuota: true,
    open: async (page, site) => {
      // Sales until the quota is spent; the refused one comes back as the page, form filled.
      for (let i = 0; ; i++) {
        await page.goto(`${site.url}/services`);
        const status = await submit(page, 'form[action="/services/vente"]', 'button[type=submit]', {
          ...SALE,
          '#titre': `Polycopié n° ${i}`,
        });
        if (status !== 303) return status;
        if (i > 12) throw new Error('the quota never ran out');
      }
    },
    shows: 'pourrez',
  },
  { name: 'services-quota-epuise', viewer: 'etudiant', status: 200, open: visit('/services'), shows: 'Il ne vous reste aucune action' },

  // The admin.
  {
    name: 'statistiques-donnees',
    viewer: 'admin',
    status: 200,
    open: async (page, site) => {
      const status = await visit('/statistiques')(page, site);
      await page.click('.chart-data summary'); // the chart's data table, opened
      return status;
    },
    shows: 'Refus vente',
  },
  { name: 'statistiques', viewer: 'admin', status: 200, open: visit('/statistiques'), shows: 'Les 10 dernières personnes connectées' },
];
