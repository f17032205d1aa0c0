DROP INDEX orders_region;
DROP TABLE orders;
