-- +goose Up
-- goose runs this in one transaction: the index comes after the rows.
CREATE TABLE orders (
    id bigserial PRIMARY KEY,
    region text NOT NULL,
    amount numeric(10,2) NOT NULL
);
INSERT INTO orders (region, amount) VALUES ('eu', 10.50), ('eu', 4.50), ('us', 7.00);
CREATE INDEX orders_region ON orders (region);

-- +goose Down
DROP INDEX orders_region;
DROP TABLE orders;
