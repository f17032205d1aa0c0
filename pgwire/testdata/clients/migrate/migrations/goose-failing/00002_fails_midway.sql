-- +goose Up
-- goose runs this in one transaction, which fails at its last statement
-- (a duplicate key): PostgreSQL's transactional DDL undoes all of it, so
-- the database is as migration 1 left it.
CREATE TABLE audit (id bigserial PRIMARY KEY, entry text NOT NULL);
INSERT INTO audit (entry) VALUES ('created');
CREATE INDEX audit_entry ON audit (entry);
CREATE MATERIALIZED VIEW audit_count AS SELECT count(*) AS n FROM audit;
INSERT INTO ledger VALUES (2, 'in the failing migration');
DROP TABLE ledger;
CREATE TABLE ledger (id int PRIMARY KEY);
INSERT INTO ledger VALUES (1), (1);

-- +goose Down
DROP MATERIALIZED VIEW audit_count;
DROP TABLE audit;
