package sqlstore

import (
	"encoding/json"
	"strings"
	"time"
)

// ms stores t as Unix milliseconds; the zero time is 0.
func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// fromMS is the inverse of ms, in UTC.
func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// list stores a string list as JSON text; an empty list is "" and reads back as nil.
func list(v []string) string {
	if len(v) == 0 {
		return ""
	}
	b, _ := json.Marshal(v) // a []string always marshals
	return string(b)
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// decoder collects the first JSON error while a row is decoded, so scan functions stay flat.
type decoder struct{ err error }

func (d *decoder) list(s string) []string {
	if s == "" {
		return nil
	}
	var v []string
	if err := json.Unmarshal([]byte(s), &v); err != nil && d.err == nil {
		d.err = err
	}
	return v
}

func raw(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}

// insertSQL builds "INSERT INTO table (cols) VALUES (?, ...)".
func insertSQL(table, cols string) string {
	n := strings.Count(cols, ",") + 1
	return "INSERT INTO " + table + " (" + cols + ") VALUES (" +
		strings.TrimSuffix(strings.Repeat("?, ", n), ", ") + ")"
}

// setExcluded builds "c = excluded.c, ..." for an upsert of cols, skipping the key columns.
func setExcluded(cols string, keys ...string) string {
	var parts []string
next:
	for _, c := range strings.Split(cols, ",") {
		c = strings.TrimSpace(c)
		for _, k := range keys {
			if c == k {
				continue next
			}
		}
		parts = append(parts, c+" = excluded."+c)
	}
	return strings.Join(parts, ", ")
}

// setParams builds "c = ?, ..." for an UPDATE of cols.
func setParams(cols string) string {
	var parts []string
	for _, c := range strings.Split(cols, ",") {
		parts = append(parts, strings.TrimSpace(c)+" = ?")
	}
	return strings.Join(parts, ", ")
}
