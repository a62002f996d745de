// The market's domain: listings (table `articles`) and purchases. Transport-free: the gRPC server
// and the seed both call this class. Errors are typed (@etu/common) with French messages.
import { FailedPrecondition, InvalidArgument, NotFound, PermissionDenied, type Logger } from '@etu/common';
import { ListingStatus as DbStatus, Prisma, type PrismaClient } from '@etu/db';
import type { market } from '@etu/proto';
import { decodeCursor, encodeCursor } from './cursor';
import { marketGate, type MarketGate } from './database';
import { isDuplicateKey, type HotSql } from './hot-sql';
import { countSql, pageSql, parseSearch } from './search';
import {
  categoryFromDb,
  conditionFromDb,
  parseCategoryFilter,
  parseId,
  parseIdempotencyKey,
  parseListingChange,
  parseNewListing,
  parsePageSize,
  type NewListing,
  parseStatusFilter,
  parseUserId,
  photosFromDb,
  statusFromDb,
} from './rules';

export const MSG = {
  notFound: 'Article introuvable.',
  alreadySold: 'Cet article a déjà été vendu.',
  ownListing: 'Vous ne pouvez pas acheter votre propre article.',
  unknownSeller: 'Vendeur inconnu : ce compte n’existe pas.',
  unknownBuyer: 'Acheteur inconnu : ce compte n’existe pas.',
  notYours: 'Seule la personne qui vend cet article peut le modifier ou le retirer.',
  soldUnchangeable: 'Cet article est vendu : il ne peut plus être modifié ni retiré.',
  changed:
    'La personne qui vend vient de modifier cet article (prix ou description) : rien n’a été acheté. Vérifiez-le et confirmez à nouveau.',
} as const;

/** Prisma's "foreign key constraint violated" (a seller or buyer id that names no user). */
function isForeignKeyViolation(err: unknown): boolean {
  return err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2003';
}

/** Prisma's "unique constraint violated": for articles, only (seller, idempotency key) is unique. */
function isUniqueViolation(err: unknown): boolean {
  return err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002';
}

/**
 * `articles.vendeur_id` / `acheteur_id` reference the users' row ids (foreign keys inside one
 * database, restored together from one dump). What leaves the market is the users' public ids,
 * read through the relation on every query.
 */
const WITH_USERS = { seller: { select: { publicId: true } }, buyer: { select: { publicId: true } } } as const;
type Row = Prisma.ListingGetPayload<{ include: typeof WITH_USERS }>;

export function toProto(r: Row): market.Listing {
  return {
    id: String(r.id),
    sellerId: r.seller.publicId,
    title: r.title,
    category: categoryFromDb(r.category),
    priceCents: r.priceCents,
    description: r.description,
    status: statusFromDb(r.status),
    buyerId: r.buyer?.publicId ?? '',
    createdAt: r.createdAt,
    soldAt: r.soldAt ?? undefined,
    condition: conditionFromDb(r.condition),
    photos: photosFromDb(r.photos),
    version: r.version,
  };
}

export interface MarketOptions {
  log?: Logger;
  /** The gate every query runs through (shared with health); a private one by default. */
  gate?: MarketGate;
  /** The INSERT and the conditional UPDATE on the driver (hot-sql.ts); through Prisma without it. */
  hot?: HotSql;
}

export class Market {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly opts: MarketOptions = {},
  ) {
    this.gate = opts.gate ?? marketGate(prisma, opts.log);
  }

  private readonly gate: MarketGate;

  /**
   * A query, run once the request is known valid (so a bad request is refused as such first),
   * through the gate: an unreachable database is the typed Unavailable error.
   */
  private query<T>(fn: (db: PrismaClient) => Promise<T>): Promise<T> {
    return this.gate.run(() => fn(this.prisma));
  }

  private get log(): Logger | undefined {
    return this.opts.log;
  }

  /** The row id of the user with this public id, if there is one (`live`: and not erased). */
  private async userRowId(publicId: string, live = false): Promise<number | undefined> {
    const u = await this.query((db) =>
      db.user.findFirst({ where: { publicId, ...(live ? { deletedAt: null } : {}) }, select: { id: true } }),
    );
    return u?.id;
  }

  /**
   * Withdraws available listings of `seller_id`: every one (their account is being erased), or
   * only `listing_id` (the seller retracts it). Each is ONE conditional DELETE (available, this
   * seller's), so that a purchase racing it either bought the item first or finds it gone. The
   * photos of the rows read beforehand (photos never change once listed) that no remaining row
   * uses are returned, for the gateway to delete their files; a row bought in between keeps its
   * photos, since it still names them.
   */
  async withdrawListings(req: market.WithdrawListingsRequest): Promise<market.WithdrawListingsResponse> {
    const seller = parseUserId('seller_id', req.sellerId, "l'identifiant du vendeur");
    const listingId = req.listingId === '' ? undefined : parseId('listing_id', req.listingId, "l'identifiant de l'article");
    const sellerId = await this.userRowId(seller);
    if (listingId !== undefined) return this.withdrawOne(listingId, seller, sellerId);
    if (sellerId === undefined) return { withdrawn: 0, unusedPhotos: [] };
    const where = { sellerId, status: DbStatus.disponible };
    const before = await this.query((db) => db.listing.findMany({ where, select: { photos: true } }));
    const { count } = await this.query((db) => db.listing.deleteMany({ where }));
    const unusedPhotos = await this.unusedPhotos(before.flatMap((r) => photosFromDb(r.photos)));
    this.log?.info({ sellerId: seller, withdrawn: count, unusedPhotos: unusedPhotos.length }, 'listings withdrawn');
    return { withdrawn: count, unusedPhotos };
  }

  private async withdrawOne(id: number, seller: string, sellerId: number | undefined): Promise<market.WithdrawListingsResponse> {
    const row = await this.query((db) => db.listing.findUnique({ where: { id }, select: { sellerId: true, photos: true } }));
    if (!row) throw new NotFound(MSG.notFound);
    if (sellerId === undefined || row.sellerId !== sellerId) throw new PermissionDenied(MSG.notYours);
    const { count } = await this.query((db) => db.listing.deleteMany({ where: { id, sellerId, status: DbStatus.disponible } }));
    if (count === 0) {
      // Sold meanwhile (a sold row never changes again), or withdrawn by a request racing this one.
      const now = await this.query((db) => db.listing.findUnique({ where: { id }, select: { status: true } }));
      if (!now) throw new NotFound(MSG.notFound);
      throw new FailedPrecondition(MSG.soldUnchangeable);
    }
    const unusedPhotos = await this.unusedPhotos(photosFromDb(row.photos));
    this.log?.info({ listingId: id, sellerId: seller, unusedPhotos: unusedPhotos.length }, 'listing withdrawn');
    return { withdrawn: 1, unusedPhotos };
  }

  /**
   * Of these photo names, those no listing names any more (files are shared by content: the same
   * picture in two listings is one file). One scan of the column: withdrawals are rare, and the
   * names are 32 hex digits, so they hold no LIKE wildcard.
   */
  private async unusedPhotos(names: string[]): Promise<string[]> {
    const distinct = [...new Set(names)];
    if (distinct.length === 0) return [];
    const used = new Set<string>();
    for (let i = 0; i < distinct.length; i += 100) {
      const some = distinct.slice(i, i + 100);
      const likes = Prisma.join(
        some.map((n) => Prisma.sql`photos LIKE ${`%${n}%`}`),
        ' OR ',
      );
      const rows = await this.query((db) => db.$queryRaw<{ photos: string }[]>(Prisma.sql`SELECT photos FROM articles WHERE ${likes}`));
      for (const r of rows) for (const n of photosFromDb(r.photos)) used.add(n);
    }
    return distinct.filter((n) => !used.has(n));
  }

  /**
   * Changes the price and the description of an available listing, by its seller: ONE
   * conditional UPDATE (this id, this seller, still available) decides, so a purchase racing it
   * is either after the change (the buyer pays the new price, shown on the confirmation's
   * answer) or before it (the change is refused: sold). When nothing matched, the row read
   * afterwards says why.
   */
  async updateListing(req: market.UpdateListingRequest): Promise<market.UpdateListingResponse> {
    const { id, seller, priceCents, description } = parseListingChange(req);
    const sellerId = await this.userRowId(seller, true);
    const { count } =
      sellerId === undefined
        ? { count: 0 }
        : await this.query((db) =>
            db.listing.updateMany({
              where: { id, sellerId, status: DbStatus.disponible },
              data: { priceCents, description, version: { increment: 1 } },
            }),
          );
    const row = await this.query((db) => db.listing.findUnique({ where: { id }, include: WITH_USERS }));
    if (!row) throw new NotFound(MSG.notFound);
    if (sellerId === undefined || row.sellerId !== sellerId) throw new PermissionDenied(MSG.notYours);
    // count 0 with the row still available and the seller's: the values were already these.
    if (count === 0 && row.status === DbStatus.vendu) throw new FailedPrecondition(MSG.soldUnchangeable);
    this.log?.info({ listingId: id, sellerId: seller }, 'listing updated');
    return { listing: toProto(row) };
  }

  /**
   * Vente: validates every rule, then stores the listing as AVAILABLE. With an idempotency key
   * the seller already used, nothing is stored and the listing that key created is the answer
   * (`replayed`): the unique index (seller, key) decides, so two concurrent submissions of one
   * form still make one listing.
   */
  async createListing(req: market.CreateListingRequest): Promise<market.CreateListingResponse> {
    const { sellerId: sellerPublicId, ...fields } = parseNewListing(req);
    if (this.opts.hot) return this.createListingHot(this.opts.hot, sellerPublicId, fields);
    const sellerId = await this.userRowId(sellerPublicId, true);
    if (sellerId === undefined) throw new FailedPrecondition(MSG.unknownSeller);
    const data = { ...fields, sellerId };
    let row: Row;
    try {
      // The seller's public id is known: no need to read it back through the relation.
      const created = await this.query((db) => db.listing.create({ data }));
      row = { ...created, seller: { publicId: sellerPublicId }, buyer: null };
    } catch (err) {
      if (isForeignKeyViolation(err)) throw new FailedPrecondition(MSG.unknownSeller);
      if (isUniqueViolation(err) && data.idempotencyKey !== null) {
        const key = data.idempotencyKey;
        const first = await this.query((db) =>
          db.listing.findUnique({ where: { sellerId_idempotencyKey: { sellerId, idempotencyKey: key } }, include: WITH_USERS }),
        );
        if (first) return { listing: toProto(first), replayed: true };
      }
      throw err;
    }
    this.log?.info({ listingId: row.id, sellerId: sellerPublicId }, 'listing created');
    return { listing: toProto(row), replayed: false };
  }

  /** createListing in one driver statement: the seller's row id is read by the INSERT itself. */
  private async createListingHot(
    hot: HotSql,
    sellerPublicId: string,
    fields: Omit<NewListing, 'sellerId'>,
  ): Promise<market.CreateListingResponse> {
    const createdAt = new Date();
    let id: number | undefined;
    try {
      id = await this.query(() => hot.insertListing(sellerPublicId, fields, createdAt));
    } catch (err) {
      if (isDuplicateKey(err) && fields.idempotencyKey !== null) {
        const sellerId = await this.userRowId(sellerPublicId);
        const key = fields.idempotencyKey;
        const first =
          sellerId === undefined
            ? null
            : await this.query((db) =>
                db.listing.findUnique({ where: { sellerId_idempotencyKey: { sellerId, idempotencyKey: key } }, include: WITH_USERS }),
              );
        if (first) return { listing: toProto(first), replayed: true };
      }
      throw err;
    }
    if (id === undefined) throw new FailedPrecondition(MSG.unknownSeller);
    const row = {
      id,
      ...fields,
      status: DbStatus.disponible,
      createdAt,
      soldAt: null,
      version: 1,
      seller: { publicId: sellerPublicId },
      buyer: null,
    };
    this.log?.info({ listingId: id, sellerId: sellerPublicId }, 'listing created');
    return { listing: toProto(row as unknown as Row), replayed: false };
  }

  /** The listing `seller_id` created with `idempotency_key`, or none. */
  async findSale(req: market.FindSaleRequest): Promise<market.FindSaleResponse> {
    const seller = parseUserId('seller_id', req.sellerId, "l'identifiant du vendeur");
    const key = parseIdempotencyKey(req.idempotencyKey);
    if (key === null) throw new InvalidArgument('idempotency_key', "la clé d'idempotence est obligatoire.");
    const sellerId = await this.userRowId(seller);
    if (sellerId === undefined) return {};
    const row = await this.query((db) =>
      db.listing.findUnique({ where: { sellerId_idempotencyKey: { sellerId, idempotencyKey: key } }, include: WITH_USERS }),
    );
    return row ? { listing: toProto(row) } : {};
  }

  /**
   * One listing with its users' public ids. On the driver (HotSql.readListing) when the market
   * runs it: the gateway asks this before every Achat (is it a retry of one already done?).
   */
  async getListing(id: string): Promise<market.Listing> {
    const listingId = parseId('id', id, "l'identifiant de l'article");
    const read = this.opts.hot?.readListing?.bind(this.opts.hot);
    const row = read
      ? ((await this.query(() => read(listingId))) as Row | undefined)
      : await this.query((db) => db.listing.findUnique({ where: { id: listingId }, include: WITH_USERS }));
    if (!row) throw new NotFound(MSG.notFound);
    return toProto(row);
  }

  /**
   * SearchListings: the parameters are checked first (search.ts), then the page's ids and the
   * total count are read in parallel, then the page's rows with their users' public ids. A
   * listing sold between the two reads is still returned (as sold): the page is a snapshot.
   */
  async searchListings(req: market.SearchListingsRequest): Promise<market.SearchListingsResponse> {
    const p = parseSearch(req);
    const [idRows, countRows] = await Promise.all([
      this.query((db) => db.$queryRaw<{ id: number }[]>(pageSql(p))),
      this.query((db) => db.$queryRaw<{ n: bigint | number }[]>(countSql(p))),
    ]);
    const ids = idRows.map((r) => r.id);
    const rows = ids.length ? await this.query((db) => db.listing.findMany({ where: { id: { in: ids } }, include: WITH_USERS })) : [];
    const byId = new Map(rows.map((r) => [r.id, r]));
    return {
      listings: ids.flatMap((id) => {
        const r = byId.get(id);
        return r ? [toProto(r)] : [];
      }),
      totalCount: Number(countRows[0]?.n ?? 0),
      page: p.page,
      pageSize: p.pageSize,
    };
  }

  /**
   * Newest first by (created_at, id) descending. The page token is the position of the last
   * listing returned, so listings added meanwhile never shift later pages: each listing that
   * existed when the walk began is returned exactly once.
   */
  async listListings(req: market.ListListingsRequest): Promise<market.ListListingsResponse> {
    const f = req.filter;
    const category = f ? parseCategoryFilter(f.category) : undefined;
    const status = f ? parseStatusFilter(f.status) : undefined;
    const seller = f?.sellerId ? parseUserId('filter.seller_id', f.sellerId, "l'identifiant du vendeur") : undefined;
    const excluded = f?.excludeSellerId
      ? parseUserId('filter.exclude_seller_id', f.excludeSellerId, "l'identifiant du vendeur")
      : undefined;
    const buyer = f?.buyerId ? parseUserId('filter.buyer_id', f.buyerId, "l'identifiant de l'acheteur") : undefined;
    const pageSize = parsePageSize(req.pageSize);
    const cursor = req.pageToken ? decodeCursor(req.pageToken) : undefined;

    const and: Prisma.ListingWhereInput[] = [];
    if (category) and.push({ category });
    if (status) and.push({ status });
    if (seller !== undefined) {
      // An unknown seller has no listings.
      const sellerId = await this.userRowId(seller);
      if (sellerId === undefined) return { listings: [], nextPageToken: '' };
      and.push({ sellerId });
    }
    if (buyer !== undefined) {
      // The rows a user bought, deleted or not: an erased account's purchases are nobody's page.
      const buyerId = await this.userRowId(buyer);
      if (buyerId === undefined) return { listings: [], nextPageToken: '' };
      and.push({ buyerId });
    }
    if (excluded !== undefined) {
      const excludeSellerId = await this.userRowId(excluded);
      if (excludeSellerId !== undefined) and.push({ sellerId: { not: excludeSellerId } });
    }
    if (cursor) {
      and.push({ OR: [{ createdAt: { lt: cursor.createdAt } }, { createdAt: cursor.createdAt, id: { lt: cursor.id } }] });
    }
    const rows = await this.query((db) =>
      db.listing.findMany({
        where: { AND: and },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take: pageSize + 1,
        include: WITH_USERS,
      }),
    );
    const page = rows.slice(0, pageSize);
    const last = page[page.length - 1];
    return {
      listings: page.map(toProto),
      nextPageToken: rows.length > pageSize && last ? encodeCursor(last) : '',
    };
  }

  /**
   * Achat, atomically: one conditional UPDATE (available, and not the buyer's own) decides the
   * winner inside the database, so of N concurrent buyers exactly one matches a row; then the row
   * is read to answer (or, when no row matched, to say why). A sold listing never changes again,
   * so that read cannot be contradicted by a later write. Idempotent: a listing already sold to
   * this buyer is a success (`replayed`). So when the answer is lost after the UPDATE committed
   * (the read fails, the database or the link to the gateway dies), the buyer gets a 503 and the
   * retry finds the article theirs: the gateway checks that before counting (GetListing), and so
   * does this method. The UPDATE stays one autocommit statement: no lock is held across round
   * trips while 20 buyers race for one row.
   */
  async purchase(req: market.PurchaseRequest): Promise<market.PurchaseResponse> {
    const id = parseId('listing_id', req.listingId, "l'identifiant de l'article");
    const buyer = parseUserId('buyer_id', req.buyerId, "l'identifiant de l'acheteur");
    const version = req.expectedVersion;
    if (version !== undefined && (!Number.isInteger(version) || version < 1)) {
      throw new InvalidArgument('expected_version', 'la version doit être un nombre entier positif.');
    }
    if (this.opts.hot) return this.purchaseHot(this.opts.hot, id, buyer, version);
    const buyerId = await this.userRowId(buyer, true);
    if (buyerId === undefined) throw new FailedPrecondition(MSG.unknownBuyer);
    let count: number;
    try {
      ({ count } = await this.query((db) =>
        db.listing.updateMany({
          where: { id, status: DbStatus.disponible, sellerId: { not: buyerId }, ...(version === undefined ? {} : { version }) },
          data: { status: DbStatus.vendu, buyerId, soldAt: new Date() },
        }),
      ));
    } catch (err) {
      if (isForeignKeyViolation(err)) throw new FailedPrecondition(MSG.unknownBuyer);
      throw err;
    }
    const row = await this.query((db) => db.listing.findUnique({ where: { id }, include: WITH_USERS }));
    if (!row) throw new NotFound(MSG.notFound);
    if (count === 1) {
      this.log?.info({ listingId: id, buyerId: buyer, sellerId: row.seller.publicId }, 'listing sold');
      return { listing: toProto(row), replayed: false };
    }
    // A sold listing never changes again, so "sold to this buyer" is final.
    if (row.status === DbStatus.vendu && row.buyerId === buyerId) return { listing: toProto(row), replayed: true };
    if (row.sellerId === buyerId) throw new FailedPrecondition(MSG.ownListing);
    if (row.status === DbStatus.vendu) throw new FailedPrecondition(MSG.alreadySold);
    if (version !== undefined && row.version !== version) throw new FailedPrecondition(MSG.changed);
    // Not reachable: the row is available, not the buyer's, yet the update matched nothing.
    throw new Error(`purchase of listing ${id} matched no row although it is available`);
  }

  /**
   * purchase with the conditional UPDATE as one driver statement that reads the buyer's row id
   * itself; the same decisions after it, from the row read back (an UPDATE that matched nothing
   * because no user has that id is told apart there, so an unknown buyer is still refused first).
   */
  private async purchaseHot(hot: HotSql, id: number, buyer: string, version: number | undefined): Promise<market.PurchaseResponse> {
    const count = await this.query(() => hot.buy(id, buyer, new Date(), version));
    const read = hot.readListing?.bind(hot);
    const row = read
      ? ((await this.query(() => read(id))) as Row | undefined)
      : await this.query((db) => db.listing.findUnique({ where: { id }, include: WITH_USERS }));
    if (count === 1 && row) {
      this.log?.info({ listingId: id, buyerId: buyer, sellerId: row.seller.publicId }, 'listing sold');
      return { listing: toProto(row), replayed: false };
    }
    if (row?.status === DbStatus.vendu && row.buyer?.publicId === buyer) return { listing: toProto(row), replayed: true };
    if ((await this.userRowId(buyer, true)) === undefined) throw new FailedPrecondition(MSG.unknownBuyer);
    if (!row) throw new NotFound(MSG.notFound);
    if (row.seller.publicId === buyer) throw new FailedPrecondition(MSG.ownListing);
    if (row.status === DbStatus.vendu) throw new FailedPrecondition(MSG.alreadySold);
    if (version !== undefined && row.version !== version) throw new FailedPrecondition(MSG.changed);
    throw new Error(`purchase of listing ${id} matched no row although it is available`);
  }
}
