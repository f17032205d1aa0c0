package types

import (
	"fmt"
	"strings"
)

// Type is a SQL type. Tributary has no type modifiers yet: varchar(40) is
// Varchar, numeric(10,2) is Numeric.
type Type uint8

// The SQL types. Unknown is the type of an untyped literal ('abc' or NULL)
// before binding resolves it.
const (
	Unknown Type = iota
	Bool
	Int2
	Int4
	Int8
	Float4
	Float8
	Numeric
	Text
	Varchar
	Bpchar
	Bytea
	Date
	Time
	Timestamp
	TimestampTZ
	Interval
	JSONB
	UUID
	Oid
	// Void is the result type of functions called for their effect
	// (pg_advisory_lock): one value, which prints as the empty string.
	Void
	// Name is PostgreSQL's name: the type of identifiers in the system
	// catalogs, a string of at most 63 bytes (longer input is truncated).
	Name
	numTypes
)

type typeInfo struct {
	name  string // PostgreSQL's canonical name, as format_type prints it
	oid   uint32
	array uint32 // OID of the array type
	size  int16  // typlen
}

var infos = [numTypes]typeInfo{
	Unknown:     {"unknown", 705, 0, -2},
	Bool:        {"boolean", 16, 1000, 1},
	Int2:        {"smallint", 21, 1005, 2},
	Int4:        {"integer", 23, 1007, 4},
	Int8:        {"bigint", 20, 1016, 8},
	Float4:      {"real", 700, 1021, 4},
	Float8:      {"double precision", 701, 1022, 8},
	Numeric:     {"numeric", 1700, 1231, -1},
	Text:        {"text", 25, 1009, -1},
	Varchar:     {"character varying", 1043, 1015, -1},
	Bpchar:      {"character", 1042, 1014, -1},
	Bytea:       {"bytea", 17, 1001, -1},
	Date:        {"date", 1082, 1182, 4},
	Time:        {"time without time zone", 1083, 1183, 8},
	Timestamp:   {"timestamp without time zone", 1114, 1115, 8},
	TimestampTZ: {"timestamp with time zone", 1184, 1185, 8},
	Interval:    {"interval", 1186, 1187, 16},
	JSONB:       {"jsonb", 3802, 3807, -1},
	UUID:        {"uuid", 2950, 2951, 16},
	Oid:         {"oid", 26, 1028, 4},
	Void:        {"void", 2278, 0, 4},
	Name:        {"name", 19, 1003, 64},
}

// String returns PostgreSQL's canonical name of the type.
func (t Type) String() string {
	if t < numTypes {
		return infos[t].name
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// OID is the PostgreSQL type OID, as sent in RowDescription.
func (t Type) OID() uint32 { return infos[t].oid }

// ArrayOID is the OID of the array type whose elements are t.
func (t Type) ArrayOID() uint32 { return infos[t].array }

// Size is PostgreSQL's typlen: the fixed size in bytes, or -1 for varlena.
func (t Type) Size() int16 { return infos[t].size }

// FromOID maps a PostgreSQL type OID to a Type. ok is false for OIDs
// Tributary does not support.
func FromOID(oid uint32) (Type, bool) {
	for t := Type(0); t < numTypes; t++ {
		if infos[t].oid == oid {
			return t, true
		}
	}
	return Unknown, false
}

// AllTypes lists every type (for pg_type).
func AllTypes() []Type {
	out := make([]Type, 0, numTypes)
	for t := Type(0); t < numTypes; t++ {
		out = append(out, t)
	}
	return out
}

var byName = map[string]Type{
	"bool": Bool, "boolean": Bool,
	"int2": Int2, "smallint": Int2,
	"int4": Int4, "int": Int4, "integer": Int4, "signed": Int8, "unsigned": Int8,
	"int8": Int8, "bigint": Int8,
	"float4": Float4, "real": Float4,
	"float8": Float8, "double precision": Float8, "float": Float8, "double": Float8,
	"numeric": Numeric, "decimal": Numeric,
	"text": Text, "string": Text,
	"varchar": Varchar, "character varying": Varchar,
	"bpchar": Bpchar, "char": Bpchar, "character": Bpchar,
	"bytea":     Bytea,
	"date":      Date,
	"time":      Time,
	"timestamp": Timestamp, "timestamp without time zone": Timestamp,
	"timestamptz": TimestampTZ, "timestamp with time zone": TimestampTZ,
	"interval": Interval,
	"jsonb":    JSONB, "json": JSONB,
	"uuid": UUID,
	"oid":  Oid, "regclass": Oid, "regtype": Oid, "regproc": Oid,
	"void": Void,
	"name": Name,
}

// FromName resolves a type name as written in SQL (any case, with or
// without the pg_catalog qualification). ok is false for unknown names.
func FromName(name string) (Type, bool) {
	name = strings.ToLower(strings.TrimPrefix(strings.ToLower(name), "pg_catalog."))
	t, ok := byName[name]
	return t, ok
}

// Family groups types that compare and convert among themselves without an
// explicit cast.
type Family uint8

// Type families.
const (
	FamUnknown Family = iota
	FamBool
	FamNumeric
	FamString
	FamBytes
	FamDateTime
	FamTime
	FamInterval
	FamJSON
	FamUUID
)

// Family returns the family of t.
func (t Type) Family() Family {
	switch t {
	case Bool:
		return FamBool
	case Int2, Int4, Int8, Float4, Float8, Numeric, Oid:
		return FamNumeric
	case Text, Varchar, Bpchar, Name:
		return FamString
	case Bytea:
		return FamBytes
	case Date, Timestamp, TimestampTZ:
		return FamDateTime
	case Time:
		return FamTime
	case Interval:
		return FamInterval
	case JSONB:
		return FamJSON
	case UUID:
		return FamUUID
	}
	return FamUnknown
}

// IsInteger reports whether t is one of the integer types.
func (t Type) IsInteger() bool { return t == Int2 || t == Int4 || t == Int8 || t == Oid }

// IsFloat reports whether t is float4 or float8.
func (t Type) IsFloat() bool { return t == Float4 || t == Float8 }

// numericRank orders the numeric types by PostgreSQL's implicit-cast
// direction: a lower rank casts implicitly to a higher one.
func numericRank(t Type) int {
	switch t {
	case Int2:
		return 1
	case Int4, Oid:
		return 2
	case Int8:
		return 3
	case Numeric:
		return 4
	case Float4:
		return 5
	case Float8:
		return 6
	}
	return 0
}

// Common returns the type both a and b convert to implicitly, following
// PostgreSQL's UNION/CASE resolution: unknown yields to the other side,
// numerics widen, strings become text. ok is false when there is none.
func Common(a, b Type) (Type, bool) {
	switch {
	case a == b:
		return a, true
	case a == Unknown:
		return b, true
	case b == Unknown:
		return a, true
	}
	fa, fb := a.Family(), b.Family()
	if fa != fb {
		return Unknown, false
	}
	switch fa {
	case FamNumeric:
		if numericRank(a) >= numericRank(b) {
			return a, true
		}
		return b, true
	case FamString:
		return Text, true
	case FamDateTime:
		if a == TimestampTZ || b == TimestampTZ {
			return TimestampTZ, true
		}
		return Timestamp, true
	}
	return Unknown, false
}

// ImplicitCast reports whether PostgreSQL converts from to to without an
// explicit cast (in function and operator argument matching).
func ImplicitCast(from, to Type) bool {
	if from == to || from == Unknown {
		return true
	}
	switch from.Family() {
	case FamNumeric:
		return to.Family() == FamNumeric && numericRank(from) <= numericRank(to)
	case FamString:
		return to == Text || to == Varchar || to == Name || (from != Text && to == Bpchar)
	case FamDateTime:
		return (from == Date && (to == Timestamp || to == TimestampTZ)) || (from == Timestamp && to == TimestampTZ)
	}
	return false
}
