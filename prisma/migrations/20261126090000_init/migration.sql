-- CreateTable
CREATE TABLE `utilisateurs` (
    `id` INTEGER NOT NULL AUTO_INCREMENT,
    `nom` VARCHAR(100) NOT NULL,
    `prenom` VARCHAR(100) NOT NULL,
    `email` VARCHAR(254) NOT NULL,
    `mot_de_passe` VARCHAR(255) NOT NULL,
    `role` ENUM('STUDENT', 'ADMIN') NOT NULL DEFAULT 'STUDENT',
    `created_at` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),

    UNIQUE INDEX `utilisateurs_email_key`(`email`),
    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- CreateTable
CREATE TABLE `articles` (
    `id` INTEGER NOT NULL AUTO_INCREMENT,
    `vendeur_id` INTEGER NOT NULL,
    `titre` VARCHAR(120) NOT NULL,
    `categorie` ENUM('BOOK', 'DVD', 'OTHER') NOT NULL,
    `prix_centimes` INTEGER NOT NULL,
    `description` TEXT NOT NULL,
    `statut` ENUM('disponible', 'vendu') NOT NULL DEFAULT 'disponible',
    `acheteur_id` INTEGER NULL,
    `created_at` DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    `vendu_at` DATETIME(3) NULL,

    INDEX `articles_created_at_id_idx`(`created_at` DESC, `id` DESC),
    INDEX `articles_vendeur_id_created_at_idx`(`vendeur_id`, `created_at`),
    INDEX `articles_statut_categorie_idx`(`statut`, `categorie`),
    PRIMARY KEY (`id`)
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- AddForeignKey
ALTER TABLE `articles` ADD CONSTRAINT `articles_vendeur_id_fkey` FOREIGN KEY (`vendeur_id`) REFERENCES `utilisateurs`(`id`) ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE `articles` ADD CONSTRAINT `articles_acheteur_id_fkey` FOREIGN KEY (`acheteur_id`) REFERENCES `utilisateurs`(`id`) ON DELETE SET NULL ON UPDATE CASCADE;
