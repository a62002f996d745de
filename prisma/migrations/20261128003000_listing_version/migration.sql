-- The version of a listing (issue 19, item 3): 1 when listed, plus one at each change of its price
-- or description by its seller. A purchase from the confirmation page carries the version the
-- buyer saw, and the purchase's conditional UPDATE requires it: of a change and a purchase racing
-- each other exactly one succeeds, and nobody buys at a price they were not shown.
ALTER TABLE `articles` ADD COLUMN `version` INT NOT NULL DEFAULT 1;
