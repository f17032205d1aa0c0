package types

import (
	"strconv"
	"strings"
	"sync"
	"time"

	// The tz database is compiled into every binary that formats or parses
	// timestamptz, so zone names work on machines without
	// /usr/share/zoneinfo (containers, Windows).
	_ "time/tzdata"
)

//go:generate go run gen_zonenames.go

// Time zones. A timestamptz is an instant (UTC microseconds); a zone turns
// it into a wall clock for output and calendar arithmetic, and reads a wall
// clock back as an instant. Zones come from Go's time package with the tz
// database embedded (time/tzdata), so the rules are those of the Go
// release's tzdata, which may differ from the host's in recent changes.

var (
	zoneCache     sync.Map // string (as written) → zoneEntry
	zoneNamesOnce sync.Once
	zoneByLower   map[string]string // lower-case name → canonical name
)

type zoneEntry struct {
	loc  *time.Location
	name string
}

// LoadZone resolves a time zone as PostgreSQL's pg_tzset does: a zone name
// of the tz database in any letter case ("Europe/Berlin", "europe/berlin",
// "EST5EDT", "UTC"), or a POSIX zone specification without daylight-saving
// rules ("XYZ-3", "<+05>-05", "-03:30"), whose offset counts west of
// Greenwich as POSIX does ("-03:30" is UTC+03:30). It returns the zone and
// its canonical name (the one SHOW TimeZone prints); ok is false for
// anything else. Zones are cached: repeated lookups do not allocate.
func LoadZone(name string) (loc *time.Location, canonical string, ok bool) {
	if e, hit := zoneCache.Load(name); hit {
		z := e.(zoneEntry)
		return z.loc, z.name, true
	}
	loc, canonical, ok = loadZone(name)
	if ok {
		zoneCache.Store(name, zoneEntry{loc, canonical})
	}
	return loc, canonical, ok
}

func loadZone(name string) (*time.Location, string, bool) {
	zoneNamesOnce.Do(func() {
		zoneByLower = make(map[string]string, len(zoneNames))
		for _, n := range zoneNames {
			zoneByLower[strings.ToLower(n)] = n
		}
	})
	if c, found := zoneByLower[strings.ToLower(name)]; found {
		loc, err := time.LoadLocation(c)
		if err == nil {
			return loc, c, true
		}
	}
	off, abbrev, ok := parsePOSIXZone(name)
	if !ok {
		return nil, "", false
	}
	return time.FixedZone(abbrev, off), name, true
}

// parsePOSIXZone reads a POSIX TZ specification without a DST part:
// an optional abbreviation (three or more letters, or <...>), then an
// offset [+-]hh[:mm[:ss]] that counts hours west of Greenwich. It returns
// the offset east of Greenwich in seconds and the abbreviation to print.
func parsePOSIXZone(s string) (int, string, bool) {
	abbrev := ""
	switch {
	case strings.HasPrefix(s, "<"):
		end := strings.IndexByte(s, '>')
		if end < 2 {
			return 0, "", false
		}
		abbrev, s = s[1:end], s[end+1:]
	default:
		i := 0
		for i < len(s) && (s[i] >= 'a' && s[i] <= 'z' || s[i] >= 'A' && s[i] <= 'Z') {
			i++
		}
		if i > 0 && i < 3 {
			return 0, "", false
		}
		abbrev, s = s[:i], s[i:]
	}
	west, ok := parseOffset(s, true)
	if !ok || west < -24*3600 || west > 24*3600 {
		return 0, "", false
	}
	if abbrev == "" {
		abbrev = string(appendOffset(nil, -west))
	}
	return -west, abbrev, true
}

// parseOffset reads [+-]hh[:mm[:ss]] or [+-]hh[mm[ss]] (the sign optional
// when signOptional) as seconds.
func parseOffset(s string, signOptional bool) (int, bool) {
	if s == "" {
		return 0, false
	}
	neg := false
	switch s[0] {
	case '+':
		s = s[1:]
	case '-':
		neg, s = true, s[1:]
	default:
		if !signOptional {
			return 0, false
		}
	}
	var parts []string
	if strings.Contains(s, ":") {
		parts = strings.Split(s, ":")
	} else {
		switch len(s) {
		case 1, 2:
			parts = []string{s}
		case 4:
			parts = []string{s[:2], s[2:]}
		case 6:
			parts = []string{s[:2], s[2:4], s[4:]}
		default:
			return 0, false
		}
	}
	if len(parts) > 3 {
		return 0, false
	}
	secs := 0
	for i, p := range parts {
		if p == "" || len(p) > 2 {
			return 0, false
		}
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 || i > 0 && v > 59 {
			return 0, false
		}
		secs += v * [...]int{3600, 60, 1}[i]
	}
	if neg {
		secs = -secs
	}
	return secs, true
}

// FixedZoneName is the name PostgreSQL gives a zone set by a numeric
// offset (SET TIME ZONE 5, INTERVAL '+02:30'): the abbreviation in angle
// brackets, then the POSIX offset, "<+05>-05" or "<-03:30>+03:30".
func FixedZoneName(east int) string {
	b := append([]byte{'<'}, appendOffset(nil, east)...)
	b = append(b, '>')
	if east == 0 {
		return string(append(b, "-00"...)) // PostgreSQL prints UTC's POSIX offset as -00
	}
	return string(appendOffset(b, -east))
}

// zoneAbbrevs are the fixed-offset abbreviations of PostgreSQL's Default
// timezone_abbreviations set that clients commonly write in timestamptz
// literals and AT TIME ZONE (seconds east of UTC).
var zoneAbbrevs = map[string]int{
	"UTC": 0, "UT": 0, "GMT": 0, "Z": 0, "ZULU": 0, "WET": 0,
	"EST": -5 * 3600, "EDT": -4 * 3600, "CST": -6 * 3600, "CDT": -5 * 3600,
	"MST": -7 * 3600, "MDT": -6 * 3600, "PST": -8 * 3600, "PDT": -7 * 3600,
	"AKST": -9 * 3600, "AKDT": -8 * 3600, "HST": -10 * 3600,
	"CET": 3600, "CEST": 7200, "MET": 3600, "MEST": 7200, "BST": 3600, "WEST": 3600,
	"EET": 7200, "EEST": 3 * 3600, "MSK": 3 * 3600, "IST": 7200, "SAST": 7200,
	"JST": 9 * 3600, "KST": 9 * 3600, "HKT": 8 * 3600, "AWST": 8 * 3600,
	"ACST": 34200, "ACDT": 37800, "AEST": 10 * 3600, "AEDT": 11 * 3600,
	"NZST": 12 * 3600, "NZDT": 13 * 3600,
}

// ZoneAbbrev returns the UTC offset (seconds east) of a time zone
// abbreviation such as "EST" or "CEST", in any letter case.
func ZoneAbbrev(s string) (int, bool) {
	off, ok := zoneAbbrevs[strings.ToUpper(s)]
	return off, ok
}

// zoneAt is loc's offset (seconds east of UTC) and abbreviation at the
// instant us.
func zoneAt(us int64, loc *time.Location) (string, int) {
	return time.Unix(floorDiv(us, 1e6)+postgresEpochUnixMicros/1e6, 0).In(loc).Zone()
}

// ToWall converts a timestamptz (UTC micros since 2000-01-01) to the wall
// clock of loc, returning loc's UTC offset in seconds at that instant too.
// It does not allocate.
func ToWall(us int64, loc *time.Location) (wall int64, offset int) {
	if loc == nil || loc == time.UTC {
		return us, 0
	}
	_, off := zoneAt(us, loc)
	return us + int64(off)*1e6, off
}

// ZoneAbbrevAt is the abbreviation loc uses at instant us ("CEST", "+0530"
// style names where the tz database has none).
func ZoneAbbrevAt(us int64, loc *time.Location) string {
	if loc == nil {
		loc = time.UTC
	}
	name, _ := zoneAt(us, loc)
	return name
}

// FromWall reads wall-clock micros as a time in loc and returns the
// instant (UTC micros). A wall time that a daylight-saving transition makes
// ambiguous or impossible is resolved as PostgreSQL resolves it: in a
// spring-forward gap the offset from before the transition applies (02:30
// on the day Berlin springs forward is 01:30 UTC, printed 03:30+02); in a
// fall-back overlap the offset from after it (02:30 on the day Berlin falls
// back is 01:30 UTC, printed 02:30+01).
func FromWall(wall int64, loc *time.Location) int64 {
	if loc == nil || loc == time.UTC {
		return wall
	}
	const unixShift = postgresEpochUnixMicros / 1e6
	const window = 27 * 3600 // wider than any UTC offset
	sec := floorDiv(wall, 1e6) + unixShift
	// Visit the zone's periods (intervals of one offset) within a day of
	// the wall time; a period solves it when the wall time, read with its
	// offset, is an instant inside it.
	best, found := int64(0), false
	before, haveBefore := 0, false
	t := sec - window
	for i := 0; i < 8; i++ {
		start, end := time.Unix(t, 0).In(loc).ZoneBounds()
		_, off := time.Unix(t, 0).In(loc).Zone()
		u := sec - int64(off)
		inStart := start.IsZero() || u >= start.Unix()
		inEnd := end.IsZero() || u < end.Unix()
		switch {
		case inStart && inEnd:
			if !found || u > best { // an overlap prefers the later period
				best, found = u, true
			}
		case !inEnd:
			before, haveBefore = off, true // the wall time lies past this period
		}
		if end.IsZero() || end.Unix() > sec+window {
			break
		}
		t = end.Unix()
	}
	var off int64
	switch {
	case found:
		off = sec - best
	case haveBefore:
		off = int64(before)
	default:
		_, o := zoneAt(wall, loc)
		off = int64(o)
	}
	return wall - off*1e6
}
