package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/motlan/motlan/idp/store"
)

var (
	// qTakeRateLimit counts a hit and returns the window's count, in one statement: the
	// upsert is atomic on both engines, so racing takes (from any replica) each see a
	// distinct count.
	qTakeRateLimit = "INSERT INTO rate_limits (limit_key, window_start, hits, expires_at) VALUES (?, ?, 1, ?) " +
		"ON CONFLICT (limit_key, window_start) DO UPDATE SET hits = rate_limits.hits + 1 RETURNING hits"
	qPurgeRateLimits = "DELETE FROM rate_limits WHERE expires_at <= ?"
	// On PostgreSQL, a transaction's commit that does not wait for the WAL flush.
	qAsyncCommit = "SET LOCAL synchronous_commit TO OFF"
)

// TakeRateLimit counts one hit of key in the fixed window holding now; see
// store.RateLimits.
func (s *Store) TakeRateLimit(ctx context.Context, key string, limit int, window time.Duration, now time.Time) (bool, time.Duration, error) {
	w := window.Milliseconds()
	if limit < 1 || w < 1 {
		return false, 0, errors.New("sqlstore: take rate limit: limit and window must be positive")
	}
	at := now.UnixMilli()
	startMS := at - at%w
	var hits int64
	if s.pg {
		// A counter need not survive a crash (the limit starts over), so the commit does
		// not wait for the WAL flush: that wait was most of a take's latency.
		err := s.inTx(ctx, func(tx *txn) error {
			if _, err := tx.ExecContext(tx.ctx, qAsyncCommit); err != nil {
				return err
			}
			row, err := tx.queryRow(qTakeRateLimit, key, startMS, startMS+w)
			if err != nil {
				return err
			}
			return row.Scan(&hits)
		})
		if err != nil {
			return false, 0, fmt.Errorf("sqlstore: take rate limit: %w", err)
		}
	} else {
		row, err := s.writeQueryRow(ctx, qTakeRateLimit, key, startMS, startMS+w)
		if err != nil {
			return false, 0, fmt.Errorf("sqlstore: take rate limit: %w", err)
		}
		if err := row.Scan(&hits); err != nil {
			return false, 0, fmt.Errorf("sqlstore: take rate limit: %w", err)
		}
	}
	if hits <= int64(limit) {
		return true, 0, nil
	}
	return false, time.Duration(startMS+w-at) * time.Millisecond, nil
}

// DeleteExpiredRateLimits removes counters of windows that have ended.
func (s *Store) DeleteExpiredRateLimits(ctx context.Context, now time.Time) (int64, error) {
	n, err := s.exec(ctx, qPurgeRateLimits, now.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("sqlstore: delete expired rate limits: %w", err)
	}
	return n, nil
}

var _ store.RateLimits = (*Store)(nil)
