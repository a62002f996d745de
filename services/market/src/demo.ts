// Demo listings for a local run (`make seed`): what students actually resell, spread over the
// demo STUDENT accounts and created through the domain code, so they follow every rule. Three
// dozen, so that a newcomer has something to search (accents, several categories, conditions and prices).
import { existsSync, readFileSync } from 'node:fs';
import { FailedPrecondition, type DemoAccount } from '@etu/common';
import type { PrismaClient } from '@etu/db';
import { market } from '@etu/proto';
import type { Market } from './market';
import type { PhotoStore } from '@etu/common/photos';
import { storeDemoPicture } from './demo-pictures';

const { CATEGORY_BOOK: BOOK, CATEGORY_DVD: DVD, CATEGORY_OTHER: OTHER } = market.Category;
const { CONDITION_NEW: NEW, CONDITION_VERY_GOOD: VERY_GOOD, CONDITION_GOOD: GOOD, CONDITION_FAIR: FAIR } = market.Condition;

type DemoListing = Omit<market.CreateListingRequest, 'sellerId' | 'idempotencyKey' | 'photos'>;

export const DEMO_LISTINGS: readonly DemoListing[] = [
  {
    title: 'Analyse L1 – Cours et exercices corrigés (Dunod)',
    category: BOOK,
    priceCents: 1200,
    description: 'Quelques annotations au crayon dans les deux premiers chapitres, sinon comme neuf. Idéal pour préparer les partiels.',
    condition: VERY_GOOD,
  },
  {
    title: 'Le Petit Prince – Antoine de Saint-Exupéry (Folio)',
    category: BOOK,
    priceCents: 350,
    description: 'Édition de poche, couverture un peu cornée.',
    condition: FAIR,
  },
  {
    title: 'Introduction à l’algorithmique (Cormen), 3e édition',
    category: BOOK,
    priceCents: 4500,
    description: 'La bible des cours d’algo. Très bon état, aucune page surlignée.',
    condition: VERY_GOOD,
  },
  {
    title: 'Droit constitutionnel – Manuel 2025',
    category: BOOK,
    priceCents: 1800,
    description: 'Surligné (jaune et vert) mais complet. Remise en main propre sur le campus.',
    condition: FAIR,
  },
  {
    title: 'Les Misérables, tome 1 – Victor Hugo',
    category: BOOK,
    priceCents: 400,
    description: 'Livre de poche au programme de lettres. Bon état.',
    condition: GOOD,
  },
  {
    title: 'Bescherelle – La conjugaison pour tous',
    category: BOOK,
    priceCents: 500,
    description: '',
    condition: VERY_GOOD,
  },
  {
    title: 'Intouchables (DVD)',
    category: DVD,
    priceCents: 500,
    description: 'Boîtier d’origine, disque sans rayure. Version française, sous-titres anglais.',
    condition: VERY_GOOD,
  },
  {
    title: 'Le Fabuleux Destin d’Amélie Poulain – édition collector',
    category: DVD,
    priceCents: 800,
    description: 'Double DVD avec les bonus. Parfait état.',
    condition: VERY_GOOD,
  },
  {
    title: 'Coffret Le Seigneur des anneaux – la trilogie',
    category: DVD,
    priceCents: 1500,
    description: 'Versions cinéma, 3 DVD. Le fourreau en carton est un peu abîmé.',
    condition: FAIR,
  },
  {
    title: 'La Haine (DVD)',
    category: DVD,
    priceCents: 600,
    description: 'Film de Mathieu Kassovitz, version restaurée.',
    condition: GOOD,
  },
  {
    title: 'Calculatrice Casio Graph 35+E II (mode examen)',
    category: OTHER,
    priceCents: 4000,
    description: 'Autorisée aux examens, avec son câble USB. Piles neuves.',
    condition: VERY_GOOD,
  },
  {
    title: 'Blouse de TP chimie, taille M',
    category: OTHER,
    priceCents: 700,
    description: 'Portée un semestre, lavée. 100 % coton.',
    condition: FAIR,
  },
  {
    title: 'Darwin – L’Origine des espèces (GF Flammarion)',
    category: BOOK,
    priceCents: 600,
    description: 'Au programme de biologie de l’évolution en L1. Quelques pages soulignées.',
    condition: FAIR,
  },
  {
    title: 'Biologie de l’évolution – Manuel L2',
    category: BOOK,
    priceCents: 2200,
    description: 'Très bon état. Remise à la BU des sciences.',
    condition: VERY_GOOD,
  },
  {
    title: 'Microéconomie – Exercices corrigés (Pearson)',
    category: BOOK,
    priceCents: 1500,
    description: 'Tous les exercices, rien d’écrit dedans.',
    condition: VERY_GOOD,
  },
  {
    title: 'Économie générale L1 – fiches de révision',
    category: BOOK,
    priceCents: 300,
    description: 'Fiches bristol recopiées au propre, 60 fiches.',
    condition: GOOD,
  },
  {
    title: 'Chimie organique – Clayden, 2e édition',
    category: BOOK,
    priceCents: 5500,
    description: 'Le gros livre rouge, en français. Couverture un peu usée.',
    condition: FAIR,
  },
  {
    title: 'Physique L1 – Mécanique et thermodynamique',
    category: BOOK,
    priceCents: 1400,
    description: 'Exercices corrigés à la fin de chaque chapitre.',
    condition: VERY_GOOD,
  },
  {
    title: 'Probabilités et statistiques pour l’ingénieur',
    category: BOOK,
    priceCents: 1900,
    description: '',
    condition: GOOD,
  },
  {
    title: 'Annales du TOEIC – 4 tests blancs',
    category: BOOK,
    priceCents: 800,
    description: 'Avec le CD audio. Les réponses ont été effacées.',
    condition: FAIR,
  },
  {
    title: 'Bescherelle – L’orthographe pour tous',
    category: BOOK,
    priceCents: 450,
    description: 'Comme neuf.',
    condition: VERY_GOOD,
  },
  {
    title: 'Code civil 2025 (Dalloz)',
    category: BOOK,
    priceCents: 2500,
    description: 'Édition 2025, quelques onglets collés.',
    condition: FAIR,
  },
  {
    title: 'Histoire de la France contemporaine – tome 3',
    category: BOOK,
    priceCents: 900,
    description: 'Bon état, pages légèrement jaunies.',
    condition: GOOD,
  },
  {
    title: 'Python pour les nuls',
    category: BOOK,
    priceCents: 700,
    description: 'Parfait pour débuter en informatique.',
    condition: VERY_GOOD,
  },
  {
    title: 'Les Choristes (DVD)',
    category: DVD,
    priceCents: 400,
    description: 'Boîtier d’origine.',
    condition: GOOD,
  },
  {
    title: 'OSS 117 : Le Caire, nid d’espions (DVD)',
    category: DVD,
    priceCents: 500,
    description: 'Culte. Disque sans rayure.',
    condition: VERY_GOOD,
  },
  {
    title: 'Astérix et Obélix : Mission Cléopâtre (DVD)',
    category: DVD,
    priceCents: 450,
    description: '',
    condition: FAIR,
  },
  {
    title: 'Le Dîner de cons (DVD)',
    category: DVD,
    priceCents: 350,
    description: 'Version restaurée.',
    condition: GOOD,
  },
  {
    title: 'Coffret Harry Potter – les 8 films (DVD)',
    category: DVD,
    priceCents: 2500,
    description: 'Complet, un boîtier fendu.',
    condition: FAIR,
  },
  {
    title: 'Lampe de bureau LED orientable',
    category: OTHER,
    priceCents: 1200,
    description: 'Trois intensités, port USB. Très peu servie.',
    condition: VERY_GOOD,
  },
  {
    title: 'Clé USB 64 Go',
    category: OTHER,
    priceCents: 600,
    description: 'Jamais servi, encore sous blister.',
    condition: NEW,
  },
  {
    title: 'Bouilloire électrique 1 L',
    category: OTHER,
    priceCents: 800,
    description: 'Idéale en résidence universitaire. Détartrée.',
    condition: VERY_GOOD,
  },
  {
    title: 'Vélo de ville – taille M',
    category: OTHER,
    priceCents: 9000,
    description: 'Révisé en septembre, avec antivol et éclairage.',
    condition: GOOD,
  },
  {
    title: 'Casque audio Bluetooth',
    category: OTHER,
    priceCents: 2000,
    description: 'Bon état, boîte d’origine et câble.',
    condition: FAIR,
  },
  {
    title: 'Calculatrice TI-83 Premium CE',
    category: OTHER,
    priceCents: 4500,
    description: 'Mode examen, avec housse.',
    condition: GOOD,
  },
  {
    title: 'Chaise de bureau réglable',
    category: OTHER,
    priceCents: 2500,
    description: 'À récupérer sur place, quartier de la fac.',
    condition: VERY_GOOD,
  },
];

/** What the market needs of an auth seed entry (never the password). */
export type DemoSeller = Pick<DemoAccount, 'id' | 'email' | 'role'>;

/**
 * Reads the demo accounts written by the auth seed; null when the file does not exist. Throws
 * with a readable message when it exists but is not what the auth seed writes.
 */
export function readDemoAccounts(path: string): DemoSeller[] | null {
  if (!existsSync(path)) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path} is not valid JSON (${(err as Error).message}); run the auth seed again`, { cause: err });
  }
  if (!Array.isArray(parsed)) throw new Error(`${path} should hold an array of accounts; run the auth seed again`);
  return parsed.flatMap((a: unknown) => {
    if (!a || typeof a !== 'object') return [];
    const o = a as Record<string, unknown>;
    // Ids are public ids (strings); a number is an entry written before public ids existed, which
    // the auth seed rewrites on its next run (make seed runs it first).
    const id = o.id;
    const role = typeof o.role === 'string' ? o.role.toUpperCase() : undefined;
    if (typeof id !== 'string' || (role !== 'STUDENT' && role !== 'ADMIN')) return [];
    return [{ id, email: typeof o.email === 'string' ? o.email : '', role }];
  });
}

export interface SeedResult {
  created: number;
  /** Students that already had listings, left untouched. */
  skipped: string[];
  /** Accounts of the file that the database does not know (a stale file). */
  unknown: string[];
}

/**
 * Deals the demo listings out to the STUDENT accounts in turn. Idempotent: a student who already
 * has listings gets none (so running the seed twice adds nothing).
 */
/**
 * With `photos`, each new listing gets a picture drawn for it (demo-pictures.ts) in that folder.
 */
export async function seedDemoListings(m: Market, db: PrismaClient, accounts: DemoSeller[], photos?: PhotoStore): Promise<SeedResult> {
  const students = accounts.filter((a) => a.role === 'STUDENT');
  const result: SeedResult = { created: 0, skipped: [], unknown: [] };
  if (students.length === 0) return result;
  const fresh: DemoSeller[] = [];
  for (const s of students) {
    if ((await db.listing.count({ where: { seller: { publicId: s.id } } })) > 0) result.skipped.push(s.id);
    else fresh.push(s);
  }
  if (fresh.length === 0) return result;
  // Each student's share, dealt round-robin over all students so the spread does not depend on
  // which ones were seeded before.
  for (const [i, item] of DEMO_LISTINGS.entries()) {
    const seller = students[i % students.length]!;
    if (!fresh.includes(seller) || result.unknown.includes(seller.id)) continue;
    try {
      const names = photos ? [await storeDemoPicture(photos, item.category, i)] : [];
      await m.createListing({ ...item, sellerId: seller.id, idempotencyKey: '', photos: names });
      result.created++;
    } catch (err) {
      if (!(err instanceof FailedPrecondition)) throw err;
      result.unknown.push(seller.id);
    }
  }
  return result;
}
