-- +goose Up
CREATE TABLE orders (
    id bigserial PRIMARY KEY,
    region text NOT NULL,
    amount numeric(10,2) NOT NULL
);
CREATE INDEX orders_region ON orders (region);
INSERT INTO orders (region, amount) VALUES ('eu', 10.50), ('eu', 4.50), ('us', 7.00);

-- +goose Down
DROP INDEX orders_region;
DROP TABLE orders;
