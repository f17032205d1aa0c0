// pgjdbc against Tributary: batches, server-prepared statements (after the
// 5th execution), a transaction, and the DatabaseMetaData calls BI tools
// (Metabase, DBeaver) make: getTables, getColumns, getPrimaryKeys,
// getIndexInfo, getSchemas, getCatalogs, getTableTypes, getTypeInfo,
// getImportedKeys and getExportedKeys, each checked row by row. Exits
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

    // rows reads the named columns of every row as "a:b:c" and closes rs.
    static List<String> rows(ResultSet rs, String... cols) throws SQLException {
        List<String> out = new ArrayList<>();
        try (rs) {
            while (rs.next()) {
                StringBuilder b = new StringBuilder();
                for (int i = 0; i < cols.length; i++) b.append(i > 0 ? ":" : "").append(rs.getString(cols[i]));
                out.add(b.toString());
            }
        }
        return out;
    }

    public static void main(String[] args) throws Exception {
        String url = "jdbc:postgresql://" + args[0] + ":" + args[1] + "/postgres?user=tributary&sslmode=disable";
        try (Connection c = DriverManager.getConnection(url)) {
            try (Statement s = c.createStatement()) {
                s.execute("CREATE TABLE orders (id int PRIMARY KEY, region text NOT NULL, amount numeric(10,2))");
                s.execute("CREATE INDEX orders_region ON orders (region)");
                s.execute("CREATE TABLE lines (order_id int, line int, sku text, PRIMARY KEY (order_id, line))");
                s.execute("CREATE INDEX lines_sku_line ON lines (sku, line)");
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
                for (int n : counts) check(n, 1, "batch update count");
            }
            try (Statement s = c.createStatement()) {
                s.addBatch("INSERT INTO lines VALUES (1, 1, 'a')");
                s.addBatch("INSERT INTO lines VALUES (1, 2, 'b')");
                s.addBatch("UPDATE lines SET sku = 'c' WHERE order_id = 1");
                check(Arrays.toString(s.executeBatch()), "[1, 1, 2]", "statement batch counts");
            }
            // Server-prepared after the 5th execution (prepareThreshold).
            try (PreparedStatement ps = c.prepareStatement("SELECT n, total FROM by_region WHERE region = ?")) {
                org.postgresql.PGStatement pgs = ps.unwrap(org.postgresql.PGStatement.class);
                check(pgs.getPrepareThreshold(), 5, "prepareThreshold");
                for (int i = 0; i < 8; i++) {
                    // pgjdbc switches to a named server-side statement from
                    // the 5th execution on.
                    check(pgs.isUseServerPrepare(), i >= 4, "server-prepared before execution " + (i + 1));
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
            check(tables, Arrays.asList("by_region:MATERIALIZED VIEW", "lines:TABLE", "orders:TABLE"), "getTables");
            List<String> cols = new ArrayList<>();
            try (ResultSet rs = md.getColumns(null, "public", "orders", "%")) {
                while (rs.next()) cols.add(rs.getString("COLUMN_NAME") + ":" + rs.getString("TYPE_NAME") + ":" + rs.getInt("NULLABLE"));
            }
            check(cols, Arrays.asList("id:int4:0", "region:text:0", "amount:numeric:1"), "getColumns");
            List<String> schemas = new ArrayList<>();
            try (ResultSet rs = md.getSchemas()) {
                while (rs.next()) schemas.add(rs.getString("TABLE_SCHEM"));
            }
            check(schemas, Arrays.asList("information_schema", "pg_catalog", "public", "tb_catalog"), "getSchemas");
            check(rows(md.getSchemas(null, "pub%"), "TABLE_SCHEM"), Arrays.asList("public"), "getSchemas(pub%)");
            check(rows(md.getCatalogs(), "TABLE_CAT"), Arrays.asList("postgres"), "getCatalogs");
            // pgjdbc asks the server for NAMEDATALEN through a ::name cast.
            check(rows(md.getClientInfoProperties(), "NAME", "MAX_LEN"), Arrays.asList("ApplicationName:63"), "getClientInfoProperties");
            // Primary keys in key order, with the constraint's name.
            check(rows(md.getPrimaryKeys(null, "public", "lines"), "TABLE_NAME", "COLUMN_NAME", "KEY_SEQ", "PK_NAME"),
                Arrays.asList("lines:order_id:1:lines_pkey", "lines:line:2:lines_pkey"), "getPrimaryKeys(lines)");
            check(rows(md.getPrimaryKeys(null, "public", "orders"), "COLUMN_NAME", "KEY_SEQ", "PK_NAME"),
                Arrays.asList("id:1:orders_pkey"), "getPrimaryKeys(orders)");
            // Indexes: unique first, then by name and position.
            check(rows(md.getIndexInfo(null, "public", "lines", false, false), "INDEX_NAME", "NON_UNIQUE", "ORDINAL_POSITION", "COLUMN_NAME", "ASC_OR_DESC", "TYPE"),
                Arrays.asList("lines_pkey:f:1:order_id:A:3", "lines_pkey:f:2:line:A:3", "lines_sku_line:t:1:sku:A:3", "lines_sku_line:t:2:line:A:3"),
                "getIndexInfo(lines)");
            check(rows(md.getIndexInfo(null, "public", "lines", true, false), "INDEX_NAME", "COLUMN_NAME"),
                Arrays.asList("lines_pkey:order_id", "lines_pkey:line"), "getIndexInfo(lines, unique)");
            check(rows(md.getIndexInfo(null, "public", "orders", false, false), "INDEX_NAME", "COLUMN_NAME"),
                Arrays.asList("orders_pkey:id", "orders_region:region"), "getIndexInfo(orders)");
            // A UNIQUE constraint's index is unique.
            c.createStatement().execute("CREATE TABLE tags (id int PRIMARY KEY, name text UNIQUE)");
            check(rows(md.getIndexInfo(null, "public", "tags", false, false), "INDEX_NAME", "NON_UNIQUE", "COLUMN_NAME"),
                Arrays.asList("tags_name_key:f:name", "tags_pkey:f:id"), "getIndexInfo(tags)");
            // Type info: the types' JDBC codes and precisions as pgjdbc
            // reports them against PostgreSQL 15.
            Map<String, String> typeInfo = new HashMap<>();
            try (ResultSet rs = md.getTypeInfo()) {
                while (rs.next()) typeInfo.put(rs.getString("TYPE_NAME"), rs.getInt("DATA_TYPE") + ":" + rs.getInt("PRECISION") + ":" + rs.getShort("NULLABLE") + ":" + rs.getBoolean("CASE_SENSITIVE"));
            }
            check(typeInfo.get("int4"), Types.INTEGER + ":0:1:false", "getTypeInfo int4");
            check(typeInfo.get("int8"), Types.BIGINT + ":0:1:false", "getTypeInfo int8");
            check(typeInfo.get("text"), Types.VARCHAR + ":0:1:true", "getTypeInfo text");
            check(typeInfo.get("numeric"), Types.NUMERIC + ":1000:1:false", "getTypeInfo numeric");
            check(typeInfo.get("bool"), Types.BIT + ":0:1:false", "getTypeInfo bool");
            check(typeInfo.get("timestamptz"), Types.TIMESTAMP + ":6:1:false", "getTypeInfo timestamptz");
            check(typeInfo.get("_int4"), Types.ARRAY + ":0:1:false", "getTypeInfo _int4");
            int tableTypes = 0;
            try (ResultSet rs = md.getTableTypes()) {
                while (rs.next()) tableTypes++;
            }
            check(tableTypes > 0, true, "getTableTypes rows");
            try (ResultSet rs = md.getImportedKeys(null, "public", "orders")) {
                check(rs.next(), false, "getImportedKeys (no foreign keys)");
            }
            try (ResultSet rs = md.getExportedKeys(null, "public", "orders")) {
                check(rs.next(), false, "getExportedKeys (no foreign keys)");
            }
            // Keywords beyond SQL:2003 (DBeaver reads them on connect).
            check(Arrays.asList(md.getSQLKeywords().split(",")).contains("analyze"), true, "getSQLKeywords has analyze");
            // A result column's table and properties, from RowDescription's
            // table OID and attribute number.
            c.createStatement().execute("CREATE TABLE auto (id serial PRIMARY KEY, note text)");
            try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT id, note, id + 1 AS next FROM auto")) {
                ResultSetMetaData rm = rs.getMetaData();
                check(rm.getTableName(1) + ":" + rm.isNullable(1) + ":" + rm.isAutoIncrement(1), "auto:0:true", "id column metadata");
                check(rm.getTableName(2) + ":" + rm.isNullable(2) + ":" + rm.isAutoIncrement(2), "auto:1:false", "note column metadata");
                check(rm.getTableName(3), "", "computed column's table");
            }
        }
        System.out.println("pgjdbc ok");
    }
}
