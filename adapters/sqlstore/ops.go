package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
)

// Ping checks that the store answers a query, on the writer (what every login and
// signing needs); an outage is store.ErrUnavailable.
func (s *Store) Ping(ctx context.Context) error {
	ctx, err := s.stmtCtx(ctx)
	if err != nil {
		return err
	}
	var one int
	if err := s.w.db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("sqlstore: ping: %w", unavailable(err))
	}
	return nil
}

// CountSigningRequests returns how many signing requests the store holds per status.
func (s *Store) CountSigningRequests(ctx context.Context) (map[string]int, error) {
	rows, err := s.query(ctx, "SELECT status, COUNT(*) FROM signing_requests GROUP BY status")
	if err != nil {
		return nil, fmt.Errorf("sqlstore: count signing requests: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var status string
		var n int
		if err := rows.Scan(&status, &n); err != nil {
			return nil, fmt.Errorf("sqlstore: count signing requests: %w", unavailable(err))
		}
		out[status] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: count signing requests: %w", unavailable(err))
	}
	return out, nil
}

// Pools returns the store's connection pools by name, for pool metrics: "writer", and
// "reader" where reads have a pool of their own (SQLite on a file).
func (s *Store) Pools() map[string]*sql.DB {
	m := map[string]*sql.DB{"writer": s.w.db}
	if s.r != s.w {
		m["reader"] = s.r.db
	}
	return m
}
