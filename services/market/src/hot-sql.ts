// The market's two hot statements without the ORM (issue 16): a Vente's INSERT and an Achat's
// conditional UPDATE, each ONE statement on the mariadb driver (prepared once per connection,
// then only executed), folding in the user's row id by public id — where Prisma ran a user
// lookup, then BEGIN, INSERT, SELECT, COMMIT for a create, and a user lookup, then the UPDATE,
// for a purchase. Prisma keeps the schema, the migrations and every other query.
// MARKET_SQL=prisma runs them through Prisma as before (the bench's A/B).
import type { DriverPool } from '@etu/db';

export interface NewRow {
  title: string;
  category: string;
  priceCents: number;
  description: string;
  idempotencyKey: string | null;
  /** `etat`: the ENUM value (neuf, tres_bon_etat, …). */
  condition: string;
  /** `photos`: the names joined by one space ('' = none). */
  photos: string;
}

/** MariaDB's duplicate key error (the (seller, idempotency key) unique index). */
export function isDuplicateKey(err: unknown): boolean {
  return (err as { errno?: unknown } | null)?.errno === 1062;
}

/** A listing as the market reads it (Prisma's row with the seller's and buyer's public ids). */
export interface ListingRow {
  id: number;
  sellerId: number;
  title: string;
  category: string;
  priceCents: number;
  description: string;
  condition: string | null;
  photos: string;
  status: string;
  buyerId: number | null;
  createdAt: Date;
  soldAt: Date | null;
  idempotencyKey: string | null;
  version: number;
  seller: { publicId: string };
  buyer: { publicId: string } | null;
}

export interface HotSql {
  /** The new listing's id, or undefined when no user has `sellerPublicId`. */
  insertListing(sellerPublicId: string, row: NewRow, createdAt: Date): Promise<number | undefined>;
  /**
   * 1 when the listing was available, not the buyer's, at `version` when one is given, and the
   * buyer exists: now sold to them; else 0.
   */
  buy(listingId: number, buyerPublicId: string, soldAt: Date, version?: number): Promise<number>;
  /**
   * The listing with its users' public ids, in one statement (an Achat reads its row back after
   * the UPDATE). Optional: without it the market reads the row through Prisma (the bench's
   * `market-readback-prisma` patch measures the difference).
   */
  readListing?(listingId: number): Promise<ListingRow | undefined>;
  close(): Promise<void>;
}

interface OkPacket {
  affectedRows: number;
  insertId: number | bigint;
}

export function driverHotSql(pool: DriverPool): HotSql {
  return {
    async insertListing(seller, r, createdAt) {
      const res = await pool.execute<OkPacket>(
        'INSERT INTO articles (vendeur_id, titre, categorie, prix_centimes, description, etat, photos, statut, created_at, cle_idempotence) ' +
          "SELECT u.id, ?, ?, ?, ?, ?, ?, 'disponible', ?, ? FROM utilisateurs u WHERE u.public_id = ? AND u.supprime_at IS NULL",
        [r.title, r.category, r.priceCents, r.description, r.condition, r.photos, createdAt, r.idempotencyKey, seller],
      );
      return res.affectedRows === 1 ? Number(res.insertId) : undefined;
    },
    async buy(listingId, buyer, soldAt, version) {
      const v = version ?? null;
      const res = await pool.execute<OkPacket>(
        "UPDATE articles a JOIN utilisateurs u ON u.public_id = ? AND u.supprime_at IS NULL SET a.statut = 'vendu', a.acheteur_id = u.id, a.vendu_at = ? " +
          "WHERE a.id = ? AND a.statut = 'disponible' AND a.vendeur_id <> u.id AND (? IS NULL OR a.version = ?)",
        [buyer, soldAt, listingId, v, v],
      );
      return res.affectedRows;
    },
    async readListing(listingId) {
      const rows = await pool.execute<(Omit<ListingRow, 'seller' | 'buyer'> & { sellerPublicId: string; buyerPublicId: string | null })[]>(
        'SELECT a.id, a.vendeur_id AS sellerId, a.titre AS title, a.categorie AS category, a.prix_centimes AS priceCents, ' +
          'a.description, a.etat AS `condition`, a.photos, a.statut AS status, a.acheteur_id AS buyerId, a.created_at AS createdAt, ' +
          'a.vendu_at AS soldAt, a.cle_idempotence AS idempotencyKey, a.version, s.public_id AS sellerPublicId, b.public_id AS buyerPublicId ' +
          'FROM articles a JOIN utilisateurs s ON s.id = a.vendeur_id LEFT JOIN utilisateurs b ON b.id = a.acheteur_id WHERE a.id = ?',
        [listingId],
      );
      const r = rows[0];
      if (!r) return undefined;
      const { sellerPublicId, buyerPublicId, ...row } = r;
      return { ...row, seller: { publicId: sellerPublicId }, buyer: buyerPublicId === null ? null : { publicId: buyerPublicId } };
    },
    close: () => pool.end(),
  };
}
