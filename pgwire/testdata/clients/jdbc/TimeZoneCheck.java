// pgjdbc in a JVM whose default zone is not UTC (run with
// -Duser.timezone=Asia/Kolkata): pgjdbc sends the JVM's zone as the
// TimeZone startup parameter; timestamptz values written and read through
// java.time and java.sql types must be the right instants, and wall-clock
// conversions on the server must use the session's zone.
// Usage: java -Duser.timezone=Asia/Kolkata -cp postgresql.jar TimeZoneCheck.java HOST PORT
import java.sql.*;
import java.time.*;
import java.util.*;

public class TimeZoneCheck {
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
                try (ResultSet rs = s.executeQuery("SHOW TimeZone")) {
                    rs.next();
                    check(rs.getString(1), "Asia/Kolkata", "session TimeZone from the JVM's zone");
                }
                s.execute("CREATE TABLE ev (id int, at timestamptz)");
                // A literal without an offset is read in the session's zone.
                s.execute("INSERT INTO ev VALUES (1, '2024-07-01 12:00:00')");
            }
            Instant noonKolkata = Instant.parse("2024-07-01T06:30:00Z");
            try (PreparedStatement p = c.prepareStatement("INSERT INTO ev VALUES (?, ?)")) {
                p.setInt(1, 2);
                p.setObject(2, OffsetDateTime.parse("2024-03-31T01:30:00Z"));
                p.executeUpdate();
                p.setInt(1, 3);
                p.setTimestamp(2, Timestamp.from(Instant.parse("2024-10-27T00:30:00Z")));
                p.executeUpdate();
            }
            Map<Integer, Instant> want = Map.of(1, noonKolkata,
                2, Instant.parse("2024-03-31T01:30:00Z"), 3, Instant.parse("2024-10-27T00:30:00Z"));
            // Read five times, so pgjdbc switches to a server-prepared statement
            // and binary results after the first executions.
            for (int round = 0; round < 6; round++) {
                try (PreparedStatement p = c.prepareStatement("SELECT id, at, at::text, (at AT TIME ZONE 'Europe/Berlin')::text FROM ev WHERE id > ? ORDER BY id")) {
                    p.setInt(1, 0);
                    try (ResultSet rs = p.executeQuery()) {
                        int n = 0;
                        while (rs.next()) {
                            n++;
                            int id = rs.getInt(1);
                            check(rs.getObject(2, OffsetDateTime.class).toInstant(), want.get(id), "OffsetDateTime of row " + id);
                            check(rs.getTimestamp(2).toInstant(), want.get(id), "Timestamp of row " + id);
                            String text = rs.getString(3);
                            check(text.endsWith("+05:30"), true, "text of row " + id + " (" + text + ") in Asia/Kolkata");
                        }
                        check(n, 3, "rows");
                    }
                }
            }
            try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(
                    "SELECT (at AT TIME ZONE 'Europe/Berlin')::text, date_trunc('day', at)::text FROM ev ORDER BY id")) {
                String[][] rows = {
                    {"2024-07-01 08:30:00", "2024-07-01 00:00:00+05:30"},
                    {"2024-03-31 03:30:00", "2024-03-31 00:00:00+05:30"},
                    {"2024-10-27 02:30:00", "2024-10-27 00:00:00+05:30"},
                };
                for (String[] r : rows) {
                    rs.next();
                    check(rs.getString(1), r[0], "AT TIME ZONE");
                    check(rs.getString(2), r[1], "date_trunc in the session zone");
                }
            }
        }
        System.out.println("ok");
    }
}
