CREATE MATERIALIZED VIEW by_region AS
    SELECT region, count(*) AS n, sum(amount) AS total FROM orders GROUP BY region;
CREATE INDEX by_region_region ON by_region (region);
