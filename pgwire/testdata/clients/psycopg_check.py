"""psycopg 3 against Tributary: parameters, binary results, COPY in and out,
named (server-side) cursors, transactions and errors. Exits non-zero, with a
message, on the first mismatch. Usage: psycopg_check.py CONNINFO"""
import sys

import psycopg

def check(got, want, what):
    if got != want:
        sys.exit(f"{what}: got {got!r}, want {want!r}")

with psycopg.connect(sys.argv[1], autocommit=True) as conn:
    conn.execute("CREATE TABLE items (id int PRIMARY KEY, name text, price numeric(8,2))")
    conn.execute("CREATE MATERIALIZED VIEW total AS SELECT count(*) AS n, sum(price) AS s FROM items")
    conn.execute("INSERT INTO items VALUES (%s, %s, %s)", (1, "pen", "1.50"))
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO items VALUES (%s, %s, %s)", [(2, "ink", "3.25"), (3, "pad", "2.00")])
    check(conn.execute("SELECT n, s::text FROM total").fetchone(), (3, "6.75"), "view after inserts")

    # Binary results.
    with conn.cursor(binary=True) as cur:
        cur.execute("SELECT id, name, price FROM items WHERE id = %s", (2,))
        row = cur.fetchone()
        check((row[0], row[1], str(row[2])), (2, "ink", "3.25"), "binary row")

    # COPY in and out.
    with conn.cursor() as cur:
        with cur.copy("COPY items (id, name, price) FROM STDIN") as copy:
            copy.write_row((4, "cup", "4.00"))
            copy.write_row((5, None, "0.50"))
        out = []
        with cur.copy("COPY (SELECT id, name FROM items WHERE id >= 4 ORDER BY id) TO STDOUT") as copy:
            for row in copy.rows():
                out.append(row)
        check(out, [("4", "cup"), ("5", None)], "copy out")
    check(conn.execute("SELECT n FROM total").fetchone(), (5,), "view after copy")

    # A bad value aborts the COPY and applies nothing.
    try:
        with conn.cursor() as cur:
            with cur.copy("COPY items (id, name, price) FROM STDIN") as copy:
                copy.write("6\tok\t1\n7\tbad\tx\n")
        sys.exit("a bad COPY row was accepted")
    except psycopg.errors.InvalidTextRepresentation:
        pass
    check(conn.execute("SELECT count(*) FROM items").fetchone(), (5,), "rows after a failed copy")

    # Errors keep their SQLSTATE; the connection stays usable.
    try:
        conn.execute("SELECT 1/0")
        sys.exit("division by zero succeeded")
    except psycopg.errors.DivisionByZero:
        pass

# A named (server-side) cursor inside a transaction.
with psycopg.connect(sys.argv[1]) as conn:
    with conn.cursor(name="walk") as cur:
        cur.itersize = 2
        cur.execute("SELECT id FROM items ORDER BY id")
        check([r[0] for r in cur], [1, 2, 3, 4, 5], "named cursor")
    conn.rollback()
print("psycopg ok")
