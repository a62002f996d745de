-- Condition of a listing (issue 19, item 3): required for every new listing by the market's rules,
-- NULL for the listings made before it (their sellers never said). The search filters on it as a
-- residual condition over the status indexes: four values, each about a quarter of the rows, is
-- too weak a filter to be worth four more indexes (docs/architecture.md).
ALTER TABLE `articles` ADD COLUMN `etat` ENUM('neuf', 'tres_bon_etat', 'bon_etat', 'etat_correct') NULL;
