package expr

import (
	"time"

	"github.com/tributary-db/tributary/sql/types"
)

const usPerDay = 86400_000_000

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// toWall converts a timestamptz (UTC micros) to the wall-clock micros of
// loc, also returning loc's UTC offset in seconds at that instant.
func toWall(us int64, loc *time.Location) (int64, int) {
	_, off := types.MicrosToTime(us).In(loc).Zone()
	return us + int64(off)*1e6, off
}

// fromWall reads wall-clock micros as a time in loc and returns UTC micros.
func fromWall(wall int64, loc *time.Location) int64 {
	if loc == time.UTC {
		return wall
	}
	t := types.MicrosToTime(wall)
	l := time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), loc)
	return types.TimeToMicros(l)
}
