-- +goose Up
-- A migration that applies cleanly.
CREATE TABLE ledger (id int PRIMARY KEY, note text);
INSERT INTO ledger VALUES (1, 'opening');

-- +goose Down
DROP TABLE ledger;
