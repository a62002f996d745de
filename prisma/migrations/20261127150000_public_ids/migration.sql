-- One identity, never reused (issue 23). `utilisateurs.id` is an AUTO_INCREMENT counter: a
-- database restored from an older dump hands the same number to the next sign-up. Every store
-- outside MariaDB (sessions, limiter subjects, statistics) and every API therefore names a user
-- by `public_id`, a random UUID (version 4, 122 random bits) that no other account can ever get.
-- `id` stays the primary key and the target of the listings' foreign keys: those live in the
-- same dump as the users, so they can never disagree.
ALTER TABLE `utilisateurs` ADD COLUMN `public_id` CHAR(36) NULL AFTER `id`;

-- Existing accounts get one each. RANDOM_BYTES is evaluated per row; each part of the UUID takes
-- its own random bytes, with the version (4) and variant (8, 9, a or b) digits set.
UPDATE `utilisateurs` SET `public_id` = LOWER(CONCAT(
    HEX(RANDOM_BYTES(4)), '-',
    HEX(RANDOM_BYTES(2)), '-',
    '4', SUBSTRING(HEX(RANDOM_BYTES(2)), 2), '-',
    SUBSTRING('89ab', 1 + (ORD(RANDOM_BYTES(1)) & 3), 1), SUBSTRING(HEX(RANDOM_BYTES(2)), 2), '-',
    HEX(RANDOM_BYTES(6))
)) WHERE `public_id` IS NULL;

ALTER TABLE `utilisateurs` MODIFY `public_id` CHAR(36) NOT NULL;

-- CreateIndex
CREATE UNIQUE INDEX `utilisateurs_public_id_key` ON `utilisateurs`(`public_id`);

-- The identity of this database: one row, created with the database and carried by its dumps.
-- Each Redis database records it in its `etu:store:init` marker, so a Redis that belongs to
-- another database (or lost its data) is noticed.
CREATE TABLE `etu_instance` (
    `id` CHAR(36) NOT NULL,
    `created_at` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),

    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

INSERT INTO `etu_instance` (`id`) VALUES (LOWER(CONCAT(
    HEX(RANDOM_BYTES(4)), '-',
    HEX(RANDOM_BYTES(2)), '-',
    '4', SUBSTRING(HEX(RANDOM_BYTES(2)), 2), '-',
    SUBSTRING('89ab', 1 + (ORD(RANDOM_BYTES(1)) & 3), 1), SUBSTRING(HEX(RANDOM_BYTES(2)), 2), '-',
    HEX(RANDOM_BYTES(6))
)));
