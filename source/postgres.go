package source

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
)

// postgres is FROM POSTGRES: change data capture of one upstream table
// through a logical replication slot and the pgoutput plugin, reading the
// changes of a publication the user created.
//
// The source is keyed (its column list has a PRIMARY KEY): an upstream
// INSERT sets its key's row, an UPDATE sets the key's new row (and deletes
// the old key's row when the key changed), a DELETE deletes the key's row,
// all as upserts (see Change) that the engine resolves against the rows it
// holds; the upstream table needs no REPLICA IDENTITY FULL. A TRUNCATE of
// the table deletes every row of the source (Batch.Truncate).
//
// Upstream transactions are never split: the whole ones received at once
// make one batch (stream: pgGather, pgBatchChanges, pgBatchAge), applied
// atomically at one timestamp with the position after the last (its end
// LSN), so a reader never sees half of an upstream transaction. A
// transaction is held in memory until its commit arrives (pgoutput
// protocol version 1 sends it whole, after the commit).
//
// Exactly once: the position is the end LSN of the last upstream
// transaction the source's log holds. Run restarts replication from it and
// skips any transaction that committed before it; the standby status
// updates it sends acknowledge (flush LSN) only what Emit made durable, so
// the slot keeps every change Tributary still needs.
//
// Without a position (a new source) and with snapshot = true, Run creates
// the slot (dropping a slot of the same name that a previous attempt left
// behind: nothing of it is in the log) in a REPEATABLE READ transaction
// with USE_SNAPSHOT, copies the table's rows in that transaction as one
// batch, whose position is the slot's consistent point, and then streams
// the changes after it.
type postgres struct {
	conninfo    string // the connection option, as written
	schema      string
	table       string
	publication string
	slot        string
	snapshot    bool
	status      time.Duration // standby status update interval
	columns     []Column
	key         []int
}

func newPostgres(spec Spec) (Connector, error) {
	p := &postgres{}
	o := spec.Options
	p.conninfo, _ = o.get("connection")
	if strings.TrimSpace(p.conninfo) == "" {
		return nil, pgerror.New(pgerror.InvalidParameterValue, "a POSTGRES source needs the option connection = 'postgres://user@host:port/db'")
	}
	if _, err := pgconn.ParseConfig(p.conninfo); err != nil {
		return nil, pgerror.New(pgerror.InvalidParameterValue, "invalid value for option \"connection\": %v", err)
	}
	table, _ := o.get("table")
	parts := strings.Split(strings.TrimSpace(table), ".")
	switch {
	case len(parts) == 1 && parts[0] != "":
		p.schema, p.table = "public", parts[0]
	case len(parts) == 2 && parts[0] != "" && parts[1] != "":
		p.schema, p.table = parts[0], parts[1]
	default:
		return nil, pgerror.New(pgerror.InvalidParameterValue, "a POSTGRES source needs the option table = 'schema.table' (the upstream table, names as stored: case-sensitive, unquoted)")
	}
	p.publication, _ = o.get("publication")
	if p.publication = strings.TrimSpace(p.publication); p.publication == "" {
		return nil, pgerror.New(pgerror.InvalidParameterValue, "a POSTGRES source needs the option publication = 'name' (CREATE PUBLICATION name FOR TABLE %s upstream)", table)
	}
	p.slot, _ = o.get("slot")
	if p.slot = strings.TrimSpace(p.slot); !validSlotName(p.slot) {
		return nil, pgerror.New(pgerror.InvalidParameterValue, "a POSTGRES source needs the option slot = 'name' (lower-case letters, digits and underscores, at most 63)")
	}
	p.snapshot = true
	if v, ok := o.get("snapshot"); ok {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "true", "on", "yes", "1":
		case "false", "off", "no", "0":
			p.snapshot = false
		default:
			return nil, pgerror.New(pgerror.InvalidParameterValue, "invalid value for option \"snapshot\": %q (want true or false)", v)
		}
	}
	var err error
	if p.status, err = o.Duration("status_interval", 10*time.Second); err != nil {
		return nil, err
	}
	if spec.Format != "" {
		return nil, pgerror.New(pgerror.SyntaxError, "a POSTGRES source takes no FORMAT: its columns are the upstream table's")
	}
	if spec.Envelope != "" && spec.Envelope != "upsert" {
		return nil, pgerror.New(pgerror.FeatureNotSupported, "ENVELOPE %s is not supported for a POSTGRES source (its changes are upserts by its PRIMARY KEY)", strings.ToUpper(spec.Envelope))
	}
	if len(spec.Columns) == 0 || len(spec.Key) == 0 {
		return nil, &pgerror.Error{Code: pgerror.InvalidTableDefinition, Message: "a POSTGRES source needs a column list with a PRIMARY KEY",
			Hint: "Name the upstream columns to read, e.g. (id int8, name text, PRIMARY KEY (id)); the key is the upstream table's replica identity (its primary key)."}
	}
	p.columns, p.key = spec.Columns, spec.Key
	return p, o.Done("POSTGRES")
}

// validSlotName is PostgreSQL's rule for replication slot names, which also
// makes a name safe to write unquoted in a replication command.
func validSlotName(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func (p *postgres) Columns() []Column { return p.columns }

// postgresPosition is a POSTGRES source's position.
//
// Encoding (format 1), integers unsigned varints:
//
//	0x01      format
//	lsn       the end LSN of the last upstream transaction the log holds, or,
//	          right after the snapshot, the slot's consistent point
//	flags     bit 0: the snapshot is complete (always set today: the
//	          snapshot is one batch; a position without it would mean
//	          copying must start over)
//
// No position (nil) means nothing of the upstream table is in the log yet.
type postgresPosition struct {
	lsn          pglogrepl.LSN
	snapshotDone bool
}

const postgresPositionFormat = 1

func (p postgresPosition) encode() []byte {
	buf := []byte{postgresPositionFormat}
	buf = binary.AppendUvarint(buf, uint64(p.lsn))
	var flags uint64
	if p.snapshotDone {
		flags |= 1
	}
	return binary.AppendUvarint(buf, flags)
}

func decodePostgresPosition(b []byte) (postgresPosition, error) {
	var p postgresPosition
	if len(b) == 0 {
		return p, nil
	}
	if b[0] != postgresPositionFormat {
		return p, fmt.Errorf("postgres: position format %d is not known", b[0])
	}
	b = b[1:]
	lsn, n := binary.Uvarint(b)
	if n <= 0 {
		return p, errors.New("postgres: malformed position")
	}
	b = b[n:]
	flags, n := binary.Uvarint(b)
	if n <= 0 || n != len(b) {
		return p, errors.New("postgres: malformed position")
	}
	p.lsn, p.snapshotDone = pglogrepl.LSN(lsn), flags&1 != 0
	return p, nil
}

func (p *postgres) Describe(position []byte) string {
	if position == nil {
		return "postgres " + p.schema + "." + p.table + " (nothing read)"
	}
	pos, err := decodePostgresPosition(position)
	if err != nil {
		return err.Error()
	}
	s := "lsn " + pos.lsn.String()
	if !pos.snapshotDone {
		s += " (snapshot incomplete)"
	}
	return s
}

// upstreamErr is a failure of the upstream or of a change (unreachable,
// refused, a slot or publication that is missing, a value that does not
// convert): Run fails with it and the runner retries; tb_catalog.sources
// shows it.
func upstreamErr(format string, args ...any) error {
	return errors.New("postgres: " + fmt.Sprintf(format, args...))
}

// connect opens a replication connection (replication=database: it runs
// SQL too) whose output formats are the ones the columns' conversion
// expects.
func (p *postgres) connect(ctx context.Context) (*pgconn.PgConn, error) {
	cfg, err := pgconn.ParseConfig(p.conninfo)
	if err != nil {
		return nil, err
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	cfg.RuntimeParams["replication"] = "database"
	cfg.RuntimeParams["DateStyle"] = "ISO, MDY"
	cfg.RuntimeParams["IntervalStyle"] = "postgres"
	cfg.RuntimeParams["TimeZone"] = "UTC"
	cfg.RuntimeParams["extra_float_digits"] = "3"
	cfg.RuntimeParams["application_name"] = "tributary"
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, upstreamErr("connecting to %s:%d: %v", cfg.Host, cfg.Port, err)
	}
	return conn, nil
}

// quoteLiteral quotes s as an SQL string literal (standard_conforming_strings
// on): a replication connection takes only the simple query protocol, so
// there are no parameters.
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// query runs one simple query and returns its rows as text (NULL: nil).
func query(ctx context.Context, conn *pgconn.PgConn, sql string) ([][][]byte, error) {
	res, err := conn.Exec(ctx, sql).ReadAll()
	if err != nil {
		return nil, err
	}
	if len(res) == 0 {
		return nil, nil
	}
	return res[len(res)-1].Rows, res[len(res)-1].Err
}

func (p *postgres) qualified() string { return pgx.Identifier{p.schema, p.table}.Sanitize() }

// check verifies the upstream: the publication includes the table, and
// every declared column exists there with a type that converts to the
// declared one.
func (p *postgres) check(ctx context.Context, conn *pgconn.PgConn) error {
	rows, err := query(ctx, conn, fmt.Sprintf(
		`SELECT count(*) FROM pg_catalog.pg_publication_tables WHERE pubname = %s AND schemaname = %s AND tablename = %s`,
		quoteLiteral(p.publication), quoteLiteral(p.schema), quoteLiteral(p.table)))
	if err != nil {
		return upstreamErr("checking publication %s: %v", p.publication, err)
	}
	if len(rows) != 1 || string(rows[0][0]) == "0" {
		return upstreamErr("publication %q does not exist or does not include table %s (upstream: CREATE PUBLICATION %s FOR TABLE %s)",
			p.publication, p.qualified(), pgx.Identifier{p.publication}.Sanitize(), p.qualified())
	}
	// For each upstream column: its name, type OID, type name, type
	// category, and whether its values convert to the declared type.
	cols := make([]string, len(p.columns))
	for i, c := range p.columns {
		cols[i] = fmt.Sprintf("(%s, %d)", quoteLiteral(c.Name), c.Type.OID())
	}
	rows, err = query(ctx, conn, fmt.Sprintf(`
		SELECT d.name, a.attname IS NOT NULL, coalesce(format_type(a.atttypid, a.atttypmod), ''),
		       a.atttypid = d.oid OR t.typcategory = 'S' OR d.oid IN (25, 1043, 1042, 19)
		       OR EXISTS (SELECT 1 FROM pg_catalog.pg_cast c WHERE c.castsource = a.atttypid AND c.casttarget = d.oid)
		FROM (VALUES %s) AS d(name, oid)
		LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = %s::regclass AND a.attname = d.name AND a.attnum > 0 AND NOT a.attisdropped
		LEFT JOIN pg_catalog.pg_type t ON t.oid = a.atttypid`,
		strings.Join(cols, ", "), quoteLiteral(p.qualified())))
	if err != nil {
		return upstreamErr("reading the columns of %s: %v", p.qualified(), err)
	}
	for _, r := range rows {
		name := string(r[0])
		i := slices.IndexFunc(p.columns, func(c Column) bool { return c.Name == name })
		switch {
		case string(r[1]) != "t":
			return upstreamErr("table %s has no column %q", p.qualified(), name)
		case string(r[3]) != "t":
			return upstreamErr("column %q of %s is of type %s, which does not convert to %s", name, p.qualified(), r[2], p.columns[i].Type)
		}
	}
	return nil
}

// Run copies the snapshot (a new source) and streams the table's changes
// from position until ctx is done or it fails.
func (p *postgres) Run(ctx context.Context, position []byte, emit Emit) error {
	pos, err := decodePostgresPosition(position)
	if err != nil {
		return err
	}
	conn, err := p.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if err := p.check(ctx, conn); err != nil {
		return err
	}
	rows, err := query(ctx, conn, fmt.Sprintf(`SELECT plugin, database = current_database(), coalesce(confirmed_flush_lsn, '0/0') FROM pg_catalog.pg_replication_slots WHERE slot_name = %s`, quoteLiteral(p.slot)))
	if err != nil {
		return upstreamErr("looking up slot %s: %v", p.slot, err)
	}
	exists := len(rows) == 1
	var confirmed pglogrepl.LSN
	if exists {
		if string(rows[0][0]) != "pgoutput" || string(rows[0][1]) != "t" {
			return upstreamErr("replication slot %q exists but is not a pgoutput slot of this database", p.slot)
		}
		if confirmed, err = pglogrepl.ParseLSN(string(rows[0][2])); err != nil {
			return upstreamErr("slot %s: confirmed flush LSN %q: %v", p.slot, rows[0][2], err)
		}
	}
	start := pos.lsn
	switch {
	case position != nil && !exists:
		return upstreamErr("replication slot %q does not exist: the changes after %s are lost upstream; drop and create the source again", p.slot, pos.lsn)
	case position != nil && !pos.snapshotDone:
		return upstreamErr("the position says the snapshot is incomplete, which this version never writes")
	case position == nil && p.snapshot:
		if exists {
			// Left by an attempt that stopped before its snapshot was
			// durable: nothing of it is in the log, and only a new slot
			// exports a snapshot.
			if err := pglogrepl.DropReplicationSlot(ctx, conn, p.slot, pglogrepl.DropReplicationSlotOptions{Wait: true}); err != nil {
				return upstreamErr("dropping the unfinished slot %s: %v", p.slot, err)
			}
		}
		if start, err = p.copySnapshot(ctx, conn, emit); err != nil {
			return err
		}
		confirmed = 0 // the old slot's
		pos = postgresPosition{lsn: start, snapshotDone: true}
	case position == nil && !exists:
		res, err := pglogrepl.CreateReplicationSlot(ctx, conn, p.slot, "pgoutput",
			pglogrepl.CreateReplicationSlotOptions{Mode: pglogrepl.LogicalReplication, SnapshotAction: "NOEXPORT_SNAPSHOT"})
		if err != nil {
			return upstreamErr("creating replication slot %s: %v", p.slot, err)
		}
		if start, err = pglogrepl.ParseLSN(res.ConsistentPoint); err != nil {
			return upstreamErr("slot %s: consistent point %q: %v", p.slot, res.ConsistentPoint, err)
		}
		// Pin the starting point in the log, or a restart before the
		// first change would start from wherever the slot then is.
		pos = postgresPosition{lsn: start, snapshotDone: true}
		if err := emit(ctx, Batch{Position: pos.encode()}); err != nil {
			return err
		}
	case position == nil:
		// snapshot = false on an existing slot: from where it stands
		// (START_REPLICATION at 0/0 starts at its confirmed flush LSN).
		pos.snapshotDone = true
	}
	// The slot may have acknowledged past the position (transactions with
	// nothing for this table); never send it backwards (PostgreSQL 15
	// would move it).
	return p.stream(ctx, conn, pos, max(pos.lsn, confirmed), emit)
}

// copySnapshot creates the slot with USE_SNAPSHOT in a REPEATABLE READ
// transaction, reads the table in it and emits its rows as one batch whose
// position is the slot's consistent point, which it returns.
func (p *postgres) copySnapshot(ctx context.Context, conn *pgconn.PgConn, emit Emit) (pglogrepl.LSN, error) {
	if _, err := conn.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ").ReadAll(); err != nil {
		return 0, upstreamErr("starting the snapshot transaction: %v", err)
	}
	res, err := pglogrepl.CreateReplicationSlot(ctx, conn, p.slot, "pgoutput",
		pglogrepl.CreateReplicationSlotOptions{Mode: pglogrepl.LogicalReplication, SnapshotAction: "USE_SNAPSHOT"})
	if err != nil {
		return 0, upstreamErr("creating replication slot %s: %v", p.slot, err)
	}
	lsn, err := pglogrepl.ParseLSN(res.ConsistentPoint)
	if err != nil {
		return 0, upstreamErr("slot %s: consistent point %q: %v", p.slot, res.ConsistentPoint, err)
	}
	names := make([]string, len(p.columns))
	for i, c := range p.columns {
		names[i] = pgx.Identifier{c.Name}.Sanitize()
	}
	rr := conn.Exec(ctx, fmt.Sprintf("SELECT %s FROM %s", strings.Join(names, ", "), p.qualified()))
	var changes []Change
	width := len(p.columns)
	for rr.NextResult() {
		r := rr.ResultReader()
		for r.NextRow() {
			vals := r.Values()
			row := make(types.Row, width)
			for i, v := range vals {
				if row[i], err = p.convert(i, v, v != nil); err != nil {
					r.Close()
					rr.Close()
					return 0, upstreamErr("snapshot of %s: %v", p.qualified(), err)
				}
			}
			changes = append(changes, Change{Row: row, Diff: 1})
		}
		if _, err := r.Close(); err != nil {
			rr.Close()
			return 0, upstreamErr("snapshot of %s: %v", p.qualified(), err)
		}
	}
	if err := rr.Close(); err != nil {
		return 0, upstreamErr("snapshot of %s: %v", p.qualified(), err)
	}
	if _, err := conn.Exec(ctx, "COMMIT").ReadAll(); err != nil {
		return 0, upstreamErr("ending the snapshot transaction: %v", err)
	}
	pos := postgresPosition{lsn: lsn, snapshotDone: true}
	if err := emit(ctx, Batch{Changes: changes, Position: pos.encode()}); err != nil {
		return 0, err
	}
	return lsn, nil
}

// convert turns an upstream value in text form into column i's datum, as
// a cast from text.
func (p *postgres) convert(i int, text []byte, present bool) (types.Datum, error) {
	c := p.columns[i]
	if !present {
		if c.NotNull {
			return types.Datum{}, fmt.Errorf("null value in column %q, which the source declares NOT NULL", c.Name)
		}
		return types.Null(c.Type), nil
	}
	d, err := types.ParseText(c.Type, string(text))
	if err != nil {
		return types.Datum{}, fmt.Errorf("column %q: %v", c.Name, err)
	}
	return d, nil
}

// relation is how an upstream relation's columns map to the source's:
// cols[upstream column] is the source column's index, or -1.
type relation struct {
	cols []int
}

// txn is the upstream transaction being received.
type txn struct {
	active   bool
	changes  []Change
	truncate bool
}

// Batching of upstream transactions: a transaction is never split, and a
// batch is sent as soon as the stream has nothing more to give at once
// (no message within pgGather), or holds pgBatchChanges changes, or has
// waited pgBatchAge. One-row transactions arriving faster than the log
// commits then share a write (each durable write took 0.35–0.47 ms, which
// bounded a stream of one-row transactions to about 2.5k a second).
const (
	pgGather       = time.Millisecond
	pgBatchChanges = 10_000
	pgBatchAge     = 100 * time.Millisecond
)

// stream runs START_REPLICATION from pos and emits the upstream
// transactions that touched the table, whole, one or several to a batch.
// acked is what the slot has acknowledged already: everything before it
// is in the log or carried nothing of the table.
func (p *postgres) stream(ctx context.Context, conn *pgconn.PgConn, pos postgresPosition, acked pglogrepl.LSN, emit Emit) error {
	err := pglogrepl.StartReplication(ctx, conn, p.slot, pos.lsn, pglogrepl.StartReplicationOptions{
		Mode:       pglogrepl.LogicalReplication,
		PluginArgs: []string{"proto_version '1'", "publication_names " + quoteLiteral(p.publication)},
	})
	if err != nil {
		return upstreamErr("START_REPLICATION of slot %s at %s: %v", p.slot, pos.lsn, err)
	}
	sendStatus := func() error {
		if err := pglogrepl.SendStandbyStatusUpdate(ctx, conn, pglogrepl.StandbyStatusUpdate{WALWritePosition: acked}); err != nil {
			return upstreamErr("sending a standby status update: %v", err)
		}
		return nil
	}
	nextStatus := time.Now().Add(p.status)
	var rel *relation
	relID := uint32(0)
	var tx txn
	// pending are whole transactions received and not yet emitted; seen
	// is the end of the last transaction received, of the table or not.
	var pending Batch
	var pendingSince time.Time
	var seen pglogrepl.LSN
	waiting := func() bool { return len(pending.Changes) > 0 || pending.Truncate }
	flush := func() error {
		if !waiting() {
			return nil
		}
		pos.lsn = seen
		pending.Position = pos.encode()
		if err := emit(ctx, pending); err != nil {
			return err
		}
		pending = Batch{}
		// Durable, with everything of ours before seen: the slot may let
		// go of it.
		acked = max(acked, seen)
		return nil
	}
	for {
		if time.Now().After(nextStatus) {
			if err := flush(); err != nil {
				return err
			}
			if err := sendStatus(); err != nil {
				return err
			}
			nextStatus = time.Now().Add(p.status)
		}
		deadline := nextStatus
		if gather := time.Now().Add(pgGather); waiting() && gather.Before(deadline) {
			deadline = gather
		}
		rctx, cancel := context.WithDeadline(ctx, deadline)
		msg, err := conn.ReceiveMessage(rctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if pgconn.Timeout(err) {
				// Nothing more at once: what was received goes now.
				if err := flush(); err != nil {
					return err
				}
				continue
			}
			return upstreamErr("receiving from slot %s: %v", p.slot, err)
		}
		var data []byte
		switch m := msg.(type) {
		case *pgproto3.CopyData:
			data = m.Data
		case *pgproto3.ErrorResponse:
			return upstreamErr("slot %s: %v", p.slot, pgconn.ErrorResponseToPgError(m))
		default:
			continue
		}
		if len(data) == 0 {
			continue
		}
		switch data[0] {
		case pglogrepl.PrimaryKeepaliveMessageByteID:
			ka, err := pglogrepl.ParsePrimaryKeepaliveMessage(data[1:])
			if err != nil {
				return upstreamErr("%v", err)
			}
			if ka.ReplyRequested {
				nextStatus = time.Time{}
			}
			continue
		case pglogrepl.XLogDataByteID:
		default:
			continue
		}
		xld, err := pglogrepl.ParseXLogData(data[1:])
		if err != nil {
			return upstreamErr("%v", err)
		}
		lm, err := pglogrepl.Parse(xld.WALData)
		if err != nil {
			return upstreamErr("decoding pgoutput: %v", err)
		}
		switch m := lm.(type) {
		case *pglogrepl.RelationMessage:
			if m.Namespace != p.schema || m.RelationName != p.table {
				continue
			}
			if rel, err = p.relation(m); err != nil {
				return err
			}
			relID = m.RelationID
		case *pglogrepl.BeginMessage:
			tx = txn{active: true}
		case *pglogrepl.InsertMessage:
			if m.RelationID != relID || rel == nil {
				continue
			}
			row, err := p.tuple(rel, m.Tuple, nil)
			if err != nil {
				return p.changeErr("INSERT", xld.WALStart, err)
			}
			tx.changes = append(tx.changes, Change{Row: row, Diff: 1})
		case *pglogrepl.UpdateMessage:
			if m.RelationID != relID || rel == nil {
				continue
			}
			row, err := p.tuple(rel, m.NewTuple, m.OldTuple)
			if err != nil {
				return p.changeErr("UPDATE", xld.WALStart, err)
			}
			if m.OldTuple != nil {
				old, err := p.keyTuple(rel, m.OldTuple)
				if err != nil {
					return p.changeErr("UPDATE", xld.WALStart, err)
				}
				if !p.sameKey(old, row) {
					tx.changes = append(tx.changes, Change{Row: old, Diff: -1})
				}
			}
			tx.changes = append(tx.changes, Change{Row: row, Diff: 1})
		case *pglogrepl.DeleteMessage:
			if m.RelationID != relID || rel == nil {
				continue
			}
			if m.OldTuple == nil {
				return p.changeErr("DELETE", xld.WALStart, errors.New("no key in the change (the table's REPLICA IDENTITY is NOTHING)"))
			}
			old, err := p.keyTuple(rel, m.OldTuple)
			if err != nil {
				return p.changeErr("DELETE", xld.WALStart, err)
			}
			tx.changes = append(tx.changes, Change{Row: old, Diff: -1})
		case *pglogrepl.TruncateMessage:
			if relID != 0 && slices.Contains(m.RelationIDs, relID) {
				// Everything before it in the transaction is gone too.
				tx.changes, tx.truncate = nil, true
			}
		case *pglogrepl.CommitMessage:
			if !tx.active {
				return upstreamErr("slot %s: COMMIT without BEGIN at %s", p.slot, m.CommitLSN)
			}
			if m.CommitLSN >= pos.lsn && (len(tx.changes) > 0 || tx.truncate) {
				if !waiting() {
					pendingSince = time.Now()
				}
				if tx.truncate {
					// Everything before it is gone, pending changes too.
					pending.Changes, pending.Truncate = tx.changes, true
				} else {
					pending.Changes = append(pending.Changes, tx.changes...)
				}
				seen = m.TransactionEndLSN
				if len(pending.Changes) >= pgBatchChanges || time.Since(pendingSince) >= pgBatchAge {
					if err := flush(); err != nil {
						return err
					}
				}
			} else {
				// Already in the log (or the snapshot), or nothing of
				// ours.
				seen = max(seen, m.TransactionEndLSN)
				if !waiting() {
					acked = max(acked, m.TransactionEndLSN)
				}
			}
			tx = txn{}
		}
	}
}

func (p *postgres) changeErr(kind string, at pglogrepl.LSN, err error) error {
	return upstreamErr("%s on %s at %s: %v", kind, p.qualified(), at, err)
}

// relation maps a Relation message's columns to the source's, and checks
// that every declared column is there and that DELETEs and key-changing
// UPDATEs will carry the source's key.
func (p *postgres) relation(m *pglogrepl.RelationMessage) (*relation, error) {
	r := &relation{cols: make([]int, len(m.Columns))}
	found := make([]bool, len(p.columns))
	for i, c := range m.Columns {
		r.cols[i] = slices.IndexFunc(p.columns, func(sc Column) bool { return sc.Name == c.Name })
		if j := r.cols[i]; j >= 0 {
			found[j] = true
			if m.ReplicaIdentity != 'f' && slices.Contains(p.key, j) && c.Flags&1 == 0 {
				return nil, upstreamErr("key column %q of the source is not in the replica identity of %s: its DELETEs would not say which row (make the source's PRIMARY KEY the table's, or ALTER TABLE ... REPLICA IDENTITY FULL)", c.Name, p.qualified())
			}
		}
	}
	for j, ok := range found {
		if !ok {
			return nil, upstreamErr("table %s has no column %q (any more)", p.qualified(), p.columns[j].Name)
		}
	}
	if m.ReplicaIdentity == 'n' {
		return nil, upstreamErr("table %s has REPLICA IDENTITY NOTHING: its UPDATEs and DELETEs are not published", p.qualified())
	}
	return r, nil
}

// tuple is the source row of an upstream tuple. A value pgoutput does not
// send (an unchanged TOASTed value of an UPDATE) is taken from old, the
// old tuple, when it has it (REPLICA IDENTITY FULL); otherwise the change
// cannot become a row.
func (p *postgres) tuple(r *relation, t, old *pglogrepl.TupleData) (types.Row, error) {
	if t == nil || len(t.Columns) != len(r.cols) {
		return nil, errors.New("the tuple does not match the table's columns")
	}
	row := make(types.Row, len(p.columns))
	for i, c := range t.Columns {
		j := r.cols[i]
		if j < 0 {
			continue
		}
		if c.DataType == pglogrepl.TupleDataTypeToast && old != nil && i < len(old.Columns) && old.Columns[i].DataType == pglogrepl.TupleDataTypeText {
			c = old.Columns[i]
		}
		var err error
		switch c.DataType {
		case pglogrepl.TupleDataTypeNull:
			row[j], err = p.convert(j, nil, false)
		case pglogrepl.TupleDataTypeText:
			row[j], err = p.convert(j, c.Data, true)
		case pglogrepl.TupleDataTypeToast:
			err = fmt.Errorf("column %q: the UPDATE did not send its unchanged (TOASTed) value; set REPLICA IDENTITY FULL upstream so that it does", p.columns[j].Name)
		default:
			err = fmt.Errorf("column %q: value of format %q", p.columns[j].Name, c.DataType)
		}
		if err != nil {
			return nil, err
		}
	}
	return row, nil
}

// keyTuple is the row holding the key of an old tuple (a key or a full old
// row); its other columns are NULL (an upsert deletion ignores them).
func (p *postgres) keyTuple(r *relation, t *pglogrepl.TupleData) (types.Row, error) {
	if len(t.Columns) != len(r.cols) {
		return nil, errors.New("the old tuple does not match the table's columns")
	}
	row := make(types.Row, len(p.columns))
	for j, c := range p.columns {
		row[j] = types.Null(c.Type)
	}
	for i, c := range t.Columns {
		j := r.cols[i]
		if j < 0 || !slices.Contains(p.key, j) {
			continue
		}
		if c.DataType != pglogrepl.TupleDataTypeText {
			return nil, fmt.Errorf("key column %q missing from the old tuple", p.columns[j].Name)
		}
		d, err := p.convert(j, c.Data, true)
		if err != nil {
			return nil, err
		}
		row[j] = d
	}
	return row, nil
}

func (p *postgres) sameKey(a, b types.Row) bool {
	for _, k := range p.key {
		if !types.Equal(a[k], b[k]) {
			return false
		}
	}
	return true
}
