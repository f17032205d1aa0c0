package source

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tributary-db/tributary/sql/pgerror"
	"github.com/tributary-db/tributary/sql/types"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// kafka is FROM KAFKA: it reads every partition of one topic directly (no
// consumer group, nothing committed to Kafka) from the offsets in its
// position, which the engine stores in its own log with the rows they
// produced. That is what makes the source exactly once: the rows of a
// batch and the offsets after them are durable together or not at all.
//
// Each poll (at most maxBatch records) becomes one batch. A record that
// cannot become a row (invalid JSON or UTF-8, a field that does not
// convert, a NULL in a NOT NULL column) is skipped and counted; the
// position moves past it, so it is never retried, and the count and the
// last such error are part of the position (see the encoding below).
//
// With ENVELOPE UPSERT (FORMAT JSON, Spec.Key set) each message is an
// upsert of the row of its key, or with a null value its deletion (see
// Change and upsert): the engine, which holds the rows, retracts the old.
//
// Partitions added to the topic later are found by the metadata refresh
// (every metadata_refresh_interval) and read from their start. That
// metadata request is also the connector's liveness check: when it fails
// (brokers unreachable, topic gone) Run fails and the runner restarts it.
type kafka struct {
	brokers  []string
	topic    string
	latest   bool // start_offset = 'latest'
	refresh  time.Duration
	timeout  time.Duration
	maxBatch int
	format   string // text, bytes, json
	columns  []Column
	decode   *jsonDecoder // FORMAT JSON with a column list
	// ENVELOPE UPSERT: the key columns (indexes into columns), filled from
	// the message's key, and their decoder.
	key       []int
	keyDecode *jsonDecoder
}

// maxMalformedText bounds the last malformed record's error kept in the
// position.
const maxMalformedText = 300

func newKafka(spec Spec) (Connector, error) {
	k := &kafka{format: spec.Format}
	o := spec.Options
	brokers, _ := o.get("brokers")
	for _, b := range strings.Split(brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			k.brokers = append(k.brokers, b)
		}
	}
	if len(k.brokers) == 0 {
		return nil, pgerror.New(pgerror.InvalidParameterValue, "a KAFKA source needs the option brokers = 'host:port[,host:port...]'")
	}
	k.topic, _ = o.get("topic")
	if k.topic = strings.TrimSpace(k.topic); k.topic == "" {
		return nil, pgerror.New(pgerror.InvalidParameterValue, "a KAFKA source needs the option topic = 'name'")
	}
	if start, ok := o.get("start_offset"); ok {
		switch strings.ToLower(strings.TrimSpace(start)) {
		case "earliest":
		case "latest":
			k.latest = true
		default:
			return nil, pgerror.New(pgerror.InvalidParameterValue, "invalid value for option \"start_offset\": %q (want 'earliest' or 'latest')", start)
		}
	}
	var err error
	if k.refresh, err = o.Duration("metadata_refresh_interval", 10*time.Second); err != nil {
		return nil, err
	}
	if k.timeout, err = o.Duration("request_timeout", 10*time.Second); err != nil {
		return nil, err
	}
	batch, err := o.Int("max_batch_rows", 10000)
	if err != nil {
		return nil, err
	}
	if batch < 1 || batch > 1_000_000 {
		return nil, pgerror.New(pgerror.InvalidParameterValue, "option \"max_batch_rows\" must be between 1 and 1000000")
	}
	k.maxBatch = int(batch)
	switch spec.Envelope {
	case "", "none":
		if spec.Key != nil {
			return nil, &pgerror.Error{Code: pgerror.InvalidTableDefinition, Message: "a source with a PRIMARY KEY needs ENVELOPE UPSERT",
				Hint: "ENVELOPE UPSERT keeps one row per key: a message replaces its key's row, a null message deletes it."}
		}
	case "upsert":
		if spec.Format != "json" || len(spec.Key) == 0 {
			return nil, &pgerror.Error{Code: pgerror.InvalidTableDefinition, Message: "ENVELOPE UPSERT needs FORMAT JSON and a column list with a PRIMARY KEY",
				Hint: "The PRIMARY KEY columns are filled from each message's key, the others from its value."}
		}
		k.key = spec.Key
		keyCols := make([]Column, len(spec.Key))
		for i, c := range spec.Key {
			keyCols[i] = spec.Columns[c]
		}
		k.keyDecode = newJSONDecoder(keyCols)
	case "debezium":
		return nil, pgerror.New(pgerror.FeatureNotSupported, "ENVELOPE %s is not supported yet for a KAFKA source", strings.ToUpper(spec.Envelope))
	default:
		return nil, pgerror.New(pgerror.FeatureNotSupported, "unknown ENVELOPE %s", strings.ToUpper(spec.Envelope))
	}
	switch spec.Format {
	case "text", "bytes":
		if spec.Columns != nil {
			return nil, &pgerror.Error{Code: pgerror.InvalidTableDefinition,
				Message: fmt.Sprintf("a KAFKA source with FORMAT %s has one column of its own; remove the column list", strings.ToUpper(spec.Format)),
				Hint:    "FORMAT JSON takes a column list: each message's fields fill the columns by name."}
		}
		if spec.Format == "text" {
			k.columns = []Column{{Name: "text", Type: types.Text}}
		} else {
			k.columns = []Column{{Name: "data", Type: types.Bytea}}
		}
	case "json":
		if spec.Columns == nil {
			k.columns = []Column{{Name: "data", Type: types.JSONB}}
		} else {
			if len(spec.Columns) == 0 {
				return nil, pgerror.New(pgerror.InvalidTableDefinition, "a KAFKA source with FORMAT JSON needs at least one column (or no column list: one column data jsonb)")
			}
			k.columns = spec.Columns
			k.decode = newJSONDecoder(spec.Columns)
		}
	case "":
		return nil, &pgerror.Error{Code: pgerror.InvalidParameterValue, Message: "a KAFKA source needs a FORMAT", Hint: "FORMAT TEXT, FORMAT BYTES or FORMAT JSON."}
	default:
		return nil, &pgerror.Error{Code: pgerror.FeatureNotSupported, Message: fmt.Sprintf("FORMAT %s is not supported for a KAFKA source", strings.ToUpper(spec.Format)),
			Hint: "FORMAT TEXT, FORMAT BYTES or FORMAT JSON."}
	}
	return k, o.Done("KAFKA")
}

func (k *kafka) Columns() []Column { return k.columns }

// kafkaPosition is a Kafka source's position: the next offset to read of
// every partition it knows, and the malformed records skipped so far.
//
// Encoding (format 1), all integers unsigned varints:
//
//	0x01                       format
//	malformed                  records skipped so far
//	len, bytes                 the last skipped record's error (UTF-8, ≤ 300 bytes)
//	n                          partitions
//	n × (gap, next offset)     ascending partitions; gap = partition − (previous + 1),
//	                           the previous being −1 before the first
//
// A partition absent from the position is read from its start. A topic of
// p partitions numbered 0..p-1 whose offsets are below 2^21 takes 4 + 4p
// bytes (plus the error text).
type kafkaPosition struct {
	partitions    []int32 // ascending
	offsets       []int64 // next offset, by index of partitions
	malformed     uint64
	lastMalformed string
}

const kafkaPositionFormat = 1

func (p *kafkaPosition) encode(buf []byte) []byte {
	buf = append(buf, kafkaPositionFormat)
	buf = binary.AppendUvarint(buf, p.malformed)
	buf = binary.AppendUvarint(buf, uint64(len(p.lastMalformed)))
	buf = append(buf, p.lastMalformed...)
	buf = binary.AppendUvarint(buf, uint64(len(p.partitions)))
	prev := int64(-1)
	for i, part := range p.partitions {
		buf = binary.AppendUvarint(buf, uint64(int64(part)-prev-1))
		buf = binary.AppendUvarint(buf, uint64(p.offsets[i]))
		prev = int64(part)
	}
	return buf
}

var errBadPosition = errors.New("kafka: malformed position")

func decodeKafkaPosition(b []byte) (kafkaPosition, error) {
	var p kafkaPosition
	if len(b) == 0 {
		return p, nil
	}
	if b[0] != kafkaPositionFormat {
		return p, fmt.Errorf("kafka: position format %d is not known", b[0])
	}
	b = b[1:]
	next := func() (uint64, bool) {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, false
		}
		b = b[n:]
		return v, true
	}
	var ok bool
	if p.malformed, ok = next(); !ok {
		return p, errBadPosition
	}
	l, ok := next()
	if !ok || l > uint64(len(b)) {
		return p, errBadPosition
	}
	p.lastMalformed, b = string(b[:l]), b[l:]
	n, ok := next()
	if !ok || n > uint64(len(b)) {
		return p, errBadPosition
	}
	p.partitions, p.offsets = make([]int32, n), make([]int64, n)
	prev := int64(-1)
	for i := range p.partitions {
		gap, ok1 := next()
		off, ok2 := next()
		if !ok1 || !ok2 || prev+1+int64(gap) > 1<<31-1 {
			return p, errBadPosition
		}
		prev += 1 + int64(gap)
		p.partitions[i], p.offsets[i] = int32(prev), int64(off)
	}
	if len(b) != 0 {
		return p, errBadPosition
	}
	return p, nil
}

// set records that partition's next offset is off.
func (p *kafkaPosition) set(partition int32, off int64) {
	i, found := slices.BinarySearch(p.partitions, partition)
	if !found {
		p.partitions = slices.Insert(p.partitions, i, partition)
		p.offsets = slices.Insert(p.offsets, i, 0)
	}
	p.offsets[i] = off
}

func (p *kafkaPosition) has(partition int32) bool {
	_, found := slices.BinarySearch(p.partitions, partition)
	return found
}

func (k *kafka) Describe(position []byte) string {
	p, err := decodeKafkaPosition(position)
	if err != nil {
		return err.Error()
	}
	var sb strings.Builder
	sb.WriteString("kafka ")
	sb.WriteString(k.topic)
	if len(p.partitions) == 0 {
		sb.WriteString(" (nothing read)")
	}
	for i, part := range p.partitions {
		if i == 16 {
			fmt.Fprintf(&sb, " … (%d partitions)", len(p.partitions))
			break
		}
		fmt.Fprintf(&sb, " %d:%d", part, p.offsets[i])
	}
	return sb.String()
}

// Malformed reports the malformed records a position counts.
func (k *kafka) Malformed(position []byte) (int64, string) {
	p, err := decodeKafkaPosition(position)
	if err != nil {
		return 0, ""
	}
	return int64(p.malformed), p.lastMalformed
}

// Run reads the topic from position until ctx is done or it fails.
func (k *kafka) Run(ctx context.Context, position []byte, emit Emit) error {
	pos, err := decodeKafkaPosition(position)
	if err != nil {
		return err
	}
	// A direct consumer of no partitions yet (the empty map makes it
	// direct, not a group member): they are added once the metadata says
	// which exist (consume), at the position's offsets.
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(k.brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(time.Second),
		kgo.RetryTimeout(k.timeout),
	)
	if err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	defer cl.Close()
	parts, err := k.partitions(ctx, cl)
	if err != nil {
		return err
	}
	if position == nil && k.latest {
		// Pin 'latest' in the log before reading anything, or a restart
		// before the first batch would skip what arrived meanwhile.
		ends, err := k.endOffsets(ctx, cl, parts)
		if err != nil {
			return err
		}
		for i, part := range parts {
			pos.set(part, ends[i])
		}
		if err := emit(ctx, Batch{Position: pos.encode(nil)}); err != nil {
			return err
		}
	}
	consuming := map[int32]bool{}
	k.consume(cl, &pos, parts, consuming)

	nextRefresh := time.Now().Add(k.refresh)
	for {
		pctx, cancel := context.WithDeadline(ctx, nextRefresh)
		fetches := cl.PollRecords(pctx, k.maxBatch)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := fetchError(fetches); err != nil {
			return err
		}
		if n := fetches.NumRecords(); n > 0 {
			b := k.batch(fetches, n, &pos)
			if err := emit(ctx, b); err != nil {
				return err
			}
		}
		if time.Now().After(nextRefresh) {
			parts, err := k.partitions(ctx, cl)
			if err != nil {
				return err
			}
			k.consume(cl, &pos, parts, consuming)
			nextRefresh = time.Now().Add(k.refresh)
		}
	}
}

// fetchError is the first error of fetches that should stop the
// connector: not a poll's deadline (the metadata refresh is due) and not
// data loss (the offsets were deleted by retention: the client went on
// from the earliest one, and nothing else can be done).
func fetchError(fetches kgo.Fetches) error {
	var first error
	fetches.EachError(func(topic string, partition int32, err error) {
		var loss *kgo.ErrDataLoss
		switch {
		case first != nil, errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled), errors.As(err, &loss):
		default:
			first = fmt.Errorf("kafka: topic %s partition %d: %w", topic, partition, err)
		}
	})
	return first
}

// consume starts reading the partitions of parts not read yet: from the
// position's offset, or from the start for a partition the position does
// not know (created after the source started, or 'earliest').
func (k *kafka) consume(cl *kgo.Client, pos *kafkaPosition, parts []int32, consuming map[int32]bool) {
	add := map[int32]kgo.Offset{}
	for _, part := range parts {
		if consuming[part] {
			continue
		}
		consuming[part] = true
		off := int64(0)
		if i, found := slices.BinarySearch(pos.partitions, part); found {
			off = pos.offsets[i]
		}
		add[part] = kgo.NewOffset().At(off)
	}
	if len(add) > 0 {
		cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{k.topic: add})
	}
}

// partitions asks the brokers for the topic's partitions (ascending).
func (k *kafka) partitions(ctx context.Context, cl *kgo.Client) ([]int32, error) {
	rctx, cancel := context.WithTimeout(ctx, k.timeout)
	defer cancel()
	req := kmsg.NewPtrMetadataRequest()
	t := kmsg.NewMetadataRequestTopic()
	t.Topic = kmsg.StringPtr(k.topic)
	req.Topics = append(req.Topics, t)
	resp, err := req.RequestWith(rctx, cl)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("kafka: brokers %s: %w", strings.Join(k.brokers, ","), err)
	}
	if len(resp.Topics) != 1 {
		return nil, fmt.Errorf("kafka: metadata for topic %s: %d topics in the answer", k.topic, len(resp.Topics))
	}
	rt := resp.Topics[0]
	if err := kerr.ErrorForCode(rt.ErrorCode); err != nil {
		return nil, fmt.Errorf("kafka: topic %s: %w", k.topic, err)
	}
	parts := make([]int32, 0, len(rt.Partitions))
	for _, p := range rt.Partitions {
		parts = append(parts, p.Partition)
	}
	slices.Sort(parts)
	return parts, nil
}

// endOffsets asks for the next offset to be written of each partition.
func (k *kafka) endOffsets(ctx context.Context, cl *kgo.Client, parts []int32) ([]int64, error) {
	rctx, cancel := context.WithTimeout(ctx, k.timeout)
	defer cancel()
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	req.IsolationLevel = 1 // read committed: the last stable offset
	t := kmsg.NewListOffsetsRequestTopic()
	t.Topic = k.topic
	for _, part := range parts {
		p := kmsg.NewListOffsetsRequestTopicPartition()
		p.Partition = part
		p.CurrentLeaderEpoch = -1
		p.Timestamp = -1 // latest
		t.Partitions = append(t.Partitions, p)
	}
	req.Topics = append(req.Topics, t)
	resp, err := req.RequestWith(rctx, cl)
	if err != nil {
		return nil, fmt.Errorf("kafka: listing the end offsets of %s: %w", k.topic, err)
	}
	ends := make([]int64, len(parts))
	found := 0
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
				return nil, fmt.Errorf("kafka: end offset of %s partition %d: %w", k.topic, rp.Partition, err)
			}
			if i, ok := slices.BinarySearch(parts, rp.Partition); ok {
				ends[i] = rp.Offset
				found++
			}
		}
	}
	if found != len(parts) {
		return nil, fmt.Errorf("kafka: end offsets of %s: %d of %d partitions answered", k.topic, found, len(parts))
	}
	return ends, nil
}

// batch turns the n records of fetches into one batch and moves pos past
// them. The rows of a batch share one backing array of datums.
func (k *kafka) batch(fetches kgo.Fetches, n int, pos *kafkaPosition) Batch {
	width := len(k.columns)
	datums := make([]types.Datum, n*width)
	changes := make([]Change, 0, n)
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		if len(fp.Records) == 0 {
			return
		}
		for _, r := range fp.Records {
			row := types.Row(datums[:width:width])
			diff, err := int64(1), error(nil)
			if k.key != nil {
				diff, err = k.upsert(r.Key, r.Value, row)
			} else {
				err = k.row(r.Value, row)
			}
			if err != nil {
				pos.malformed++
				msg := fmt.Sprintf("partition %d offset %d: %v", r.Partition, r.Offset, err)
				if len(msg) > maxMalformedText {
					msg = msg[:maxMalformedText]
				}
				// It may quote the message: it is shown as text.
				pos.lastMalformed = strings.ToValidUTF8(msg, "\ufffd")
				continue
			}
			datums = datums[width:]
			changes = append(changes, Change{Row: row, Diff: diff})
		}
		pos.set(fp.Partition, fp.Records[len(fp.Records)-1].Offset+1)
	})
	return Batch{Changes: changes, Position: pos.encode(nil)}
}

// row decodes one message into row (len(row) = the source's columns).
func (k *kafka) row(value []byte, row types.Row) error {
	switch {
	case k.format == "bytes":
		if value == nil {
			row[0] = types.Null(types.Bytea)
		} else {
			row[0] = types.NewString(types.Bytea, string(value))
		}
		return nil
	case k.format == "text":
		if value == nil {
			row[0] = types.Null(types.Text)
			return nil
		}
		if !utf8.Valid(value) {
			return errInvalidUTF8
		}
		row[0] = types.NewText(string(value))
		return nil
	case k.decode == nil: // json, one jsonb column
		if value == nil {
			row[0] = types.Null(types.JSONB)
			return nil
		}
		if !utf8.Valid(value) {
			return errInvalidUTF8 // decoding JSON would replace it silently
		}
		d, err := types.ParseJSONB(string(value))
		if err != nil {
			return err
		}
		row[0] = d
		return nil
	}
	return k.decode.row(value, row)
}

// upsert decodes an ENVELOPE UPSERT message into row: the key columns
// from key, the others from value; a null value is a deletion of the
// key's row (Diff -1, see Change). A key is a JSON object whose fields
// fill the key columns by name, or, for a key of one column, a JSON
// scalar or any UTF-8 text (converted as a cast from text).
func (k *kafka) upsert(key, value []byte, row types.Row) (int64, error) {
	if key == nil {
		return 0, errors.New("an ENVELOPE UPSERT message needs a key")
	}
	diff := int64(1)
	if value == nil {
		diff = -1
		for i, c := range k.columns {
			row[i] = types.Null(c.Type)
		}
	} else {
		if !utf8.Valid(value) {
			return 0, errInvalidUTF8
		}
		if err := k.decode.fill(value, row); err != nil {
			return 0, err
		}
	}
	if err := k.keyInto(key, row); err != nil {
		return 0, fmt.Errorf("key: %v", err)
	}
	for _, c := range k.key {
		if row[c].IsNull() {
			return 0, fmt.Errorf("key: null value in key column %q", k.columns[c].Name)
		}
	}
	if diff > 0 {
		return diff, k.decode.notNull(row)
	}
	return diff, nil
}

// keyInto fills row's key columns from a message's key.
func (k *kafka) keyInto(key []byte, row types.Row) error {
	if !utf8.Valid(key) {
		return errInvalidUTF8
	}
	trimmed := bytes.TrimSpace(key)
	switch {
	case json.Valid(trimmed) && trimmed[0] == '{':
		keyRow := make(types.Row, len(k.key))
		if err := k.keyDecode.fill(trimmed, keyRow); err != nil {
			return err
		}
		for i, c := range k.key {
			row[c] = keyRow[i]
		}
		return nil
	case len(k.key) != 1:
		return fmt.Errorf("a key of %d columns must be a JSON object", len(k.key))
	case json.Valid(trimmed):
		d, err := jsonValue(trimmed, k.columns[k.key[0]].Type)
		row[k.key[0]] = d
		return err
	}
	d, err := types.ParseText(k.columns[k.key[0]].Type, string(key))
	row[k.key[0]] = d
	return err
}

// kafkaOffsets is for tests: the next offset of each partition a position
// holds, as "p:off" words.
func kafkaOffsets(position []byte) string {
	p, err := decodeKafkaPosition(position)
	if err != nil {
		return err.Error()
	}
	words := make([]string, len(p.partitions))
	for i, part := range p.partitions {
		words[i] = strconv.Itoa(int(part)) + ":" + strconv.FormatInt(p.offsets[i], 10)
	}
	return strings.Join(words, " ")
}
