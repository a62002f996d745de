-- AlterTable: the sale form's idempotency key, unique per seller (NULL = none: a unique index
-- admits any number of NULLs), so a repeated Vente finds the listing it already created.
ALTER TABLE `articles` ADD COLUMN `cle_idempotence` VARCHAR(64) NULL;

-- CreateIndex
CREATE UNIQUE INDEX `articles_vendeur_id_cle_idempotence_key` ON `articles`(`vendeur_id`, `cle_idempotence`);
