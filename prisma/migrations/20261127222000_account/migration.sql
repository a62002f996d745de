-- Account (issue 19, item 5). « Supprimer mon compte » erases names, e-mail address and password
-- hash but keeps the row, the target of past sales' foreign keys (« compte supprimé » for the
-- other party): `email` becomes NULL on erasure (a UNIQUE index admits several NULLs, so the
-- address is free for a new sign-up) and `supprime_at` says when.
ALTER TABLE `utilisateurs` MODIFY `email` VARCHAR(254) NULL, ADD COLUMN `supprime_at` DATETIME(3) NULL;

-- « Mot de passe oublié »: single-use tokens valid 30 minutes, stored as their SHA-256 only.
CREATE TABLE `jetons_mot_de_passe` (
    `id` INTEGER NOT NULL AUTO_INCREMENT,
    `utilisateur_id` INTEGER NOT NULL,
    `empreinte` CHAR(64) NOT NULL,
    `expire_at` DATETIME(3) NOT NULL,
    `utilise_at` DATETIME(3) NULL,
    `created_at` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),

    UNIQUE INDEX `jetons_mot_de_passe_empreinte_key`(`empreinte`),
    INDEX `jetons_mot_de_passe_utilisateur_id_idx`(`utilisateur_id`),
    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

ALTER TABLE `jetons_mot_de_passe` ADD CONSTRAINT `jetons_mot_de_passe_utilisateur_id_fkey` FOREIGN KEY (`utilisateur_id`) REFERENCES `utilisateurs`(`id`) ON DELETE CASCADE ON UPDATE CASCADE;
