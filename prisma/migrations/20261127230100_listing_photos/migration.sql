-- Photos of a listing (issue 19, item 3): up to three content-addressed names (32 hex digits
-- each, separated by one space), in the seller's order. The pictures themselves are files in the
-- gateway's PHOTOS_DIR (docs/architecture.md, "Photos"); the database holds only their names.
ALTER TABLE `articles` ADD COLUMN `photos` VARCHAR(100) NOT NULL DEFAULT '';
