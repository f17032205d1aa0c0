// pgjdbc against Tributary: batches, server-prepared statements (after the
// 5th execution), a transaction, and the DatabaseMetaData calls that work
// today (getTables, getColumns, getSchemas, getCatalogs, getTableTypes,
// getImportedKeys). Exits
// non-zero with a message on the first mismatch.
// Usage: java -cp postgresql.jar:. Check.java HOST PORT
import java.sql.*;
import java.util.*;

public class Check {
    static void check(Object got, Object want, String what) {
        if (!Objects.equals(got, want)) {
            System.err.println(what + ": got " + got + ", want " + want);
            System.exit(1);
        }
    }

    public static void main(String[] args) throws Exception {
        String url = "jdbc:postgresql://" + args[0] + ":" + args[1] + "/postgres?user=tributary&sslmode=disable";
        try (Connection c = DriverManager.getConnection(url)) {
            try (Statement s = c.createStatement()) {
                s.execute("CREATE TABLE orders (id int PRIMARY KEY, region text NOT NULL, amount numeric(10,2))");
                s.execute("CREATE INDEX orders_region ON orders (region)");
                s.execute("CREATE MATERIALIZED VIEW by_region AS SELECT region, count(*) AS n, sum(amount) AS total FROM orders GROUP BY region");
            }
            // A batch.
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO orders VALUES (?, ?, ?)")) {
                for (int i = 1; i <= 20; i++) {
                    ps.setInt(1, i);
                    ps.setString(2, i % 2 == 0 ? "eu" : "us");
                    ps.setBigDecimal(3, new java.math.BigDecimal(i + ".50"));
                    ps.addBatch();
                }
                int[] counts = ps.executeBatch();
                check(counts.length, 20, "batch size");
            }
            // Server-prepared after the 5th execution (prepareThreshold).
            try (PreparedStatement ps = c.prepareStatement("SELECT n, total FROM by_region WHERE region = ?")) {
                for (int i = 0; i < 8; i++) {
                    ps.setString(1, "eu");
                    try (ResultSet rs = ps.executeQuery()) {
                        check(rs.next(), true, "row " + i);
                        check(rs.getLong(1), 10L, "count " + i);
                        check(rs.getBigDecimal(2).toPlainString(), "115.00", "total " + i);
                    }
                }
            }
            // A transaction.
            c.setAutoCommit(false);
            try (Statement s = c.createStatement()) {
                s.executeUpdate("DELETE FROM orders WHERE region = 'us'");
            }
            c.rollback();
            c.setAutoCommit(true);
            try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT count(*) FROM orders")) {
                rs.next();
                check(rs.getLong(1), 20L, "rows after rollback");
            }

            DatabaseMetaData md = c.getMetaData();
            check(md.getDatabaseProductName(), "PostgreSQL", "product name");
            List<String> tables = new ArrayList<>();
            try (ResultSet rs = md.getTables(null, "public", "%", new String[] {"TABLE", "VIEW", "MATERIALIZED VIEW"})) {
                while (rs.next()) tables.add(rs.getString("TABLE_NAME") + ":" + rs.getString("TABLE_TYPE"));
            }
            Collections.sort(tables);
            check(tables, Arrays.asList("by_region:MATERIALIZED VIEW", "orders:TABLE"), "getTables");
            List<String> cols = new ArrayList<>();
            try (ResultSet rs = md.getColumns(null, "public", "orders", "%")) {
                while (rs.next()) cols.add(rs.getString("COLUMN_NAME") + ":" + rs.getString("TYPE_NAME") + ":" + rs.getInt("NULLABLE"));
            }
            check(cols, Arrays.asList("id:int4:0", "region:text:0", "amount:numeric:1"), "getColumns");
            List<String> schemas = new ArrayList<>();
            try (ResultSet rs = md.getSchemas()) {
                while (rs.next()) schemas.add(rs.getString("TABLE_SCHEM"));
            }
            check(schemas.contains("public"), true, "getSchemas has public");
            try (ResultSet rs = md.getCatalogs()) {
                check(rs.next(), true, "getCatalogs row");
            }
            int tableTypes = 0;
            try (ResultSet rs = md.getTableTypes()) {
                while (rs.next()) tableTypes++;
            }
            check(tableTypes > 0, true, "getTableTypes rows");
            try (ResultSet rs = md.getImportedKeys(null, "public", "orders")) {
                check(rs.next(), false, "getImportedKeys (no foreign keys)");
            }
            // getPrimaryKeys, getIndexInfo and getTypeInfo still fail
            // (docs/compatibility.md says why).
        }
        System.out.println("pgjdbc ok");
    }
}
