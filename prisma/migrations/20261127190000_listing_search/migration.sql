-- Search (issue 19, item 1): every search reads available listings only (`statut` first), then
-- sorts by newest or by price, optionally in one category. One index per sort, with and without
-- the category, so the first page of any browse reads the index in order and stops.
-- `articles_statut_categorie_idx` is a prefix of the new category indexes: dropped.
DROP INDEX `articles_statut_categorie_idx` ON `articles`;

-- CreateIndex
CREATE INDEX `articles_statut_created_at_id_idx` ON `articles`(`statut`, `created_at` DESC, `id` DESC);
CREATE INDEX `articles_statut_prix_centimes_id_idx` ON `articles`(`statut`, `prix_centimes`, `id`);
CREATE INDEX `articles_statut_categorie_created_at_id_idx` ON `articles`(`statut`, `categorie`, `created_at` DESC, `id` DESC);
CREATE INDEX `articles_statut_categorie_prix_centimes_id_idx` ON `articles`(`statut`, `categorie`, `prix_centimes`, `id`);

-- Words in titles and descriptions. InnoDB compares the index's words with the column's collation
-- (utf8mb4_unicode_ci: case- and accent-insensitive), so « évolution » finds « Evolution ». Words
-- shorter than innodb_ft_min_token_size (3) and InnoDB's stopwords are not indexed: the market
-- searches those with LIKE (services/market/src/search.ts).
CREATE FULLTEXT INDEX `articles_titre_description_idx` ON `articles`(`titre`, `description`);
