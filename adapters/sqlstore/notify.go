package sqlstore

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/motlan/motlan/signing"
)

// Notifier is signing.Notifier on PostgreSQL LISTEN/NOTIFY: Publish sends NOTIFY through
// the store's pool, after the change's transaction has committed; Subscribe keeps one
// dedicated connection per process LISTENing, and re-establishes it with backoff when
// it breaks (a database restart, a network cut), then reports "" so that every waiter
// re-reads once: nothing announced while it was away is missed.
type Notifier struct {
	st        *Store
	dsn       string
	channel   string
	origin    string // this process's announcements carry it, so that it skips its own
	keepalive time.Duration
	log       *slog.Logger
	listening atomic.Bool
}

// NotifierConfig configures NewNotifier.
type NotifierConfig struct {
	// Store publishes through its pool; it must be a PostgreSQL store.
	Store *Store
	// DSN is the store's pgx connection string, for the listening connection.
	DSN string
	// Channel is the NOTIFY channel; default DefaultChannel. Replicas of one deployment
	// must agree; deployments sharing a database may differ.
	Channel string
	// Keepalive: a listening connection silent this long is pinged, so that a connection
	// cut without a reset is found; default 30 s.
	Keepalive time.Duration
	Logger    *slog.Logger
}

// DefaultChannel is the NOTIFY channel of signing request changes.
const DefaultChannel = "motlan_signing"

// Reconnection backoff of the listening connection: doubled from the first to the last.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 10 * time.Second
)

// NewNotifier returns the PostgreSQL notifier of cfg.Store.
func NewNotifier(cfg NotifierConfig) (*Notifier, error) {
	if cfg.Store == nil || !cfg.Store.pg {
		return nil, errors.New("sqlstore: a notifier needs a PostgreSQL store")
	}
	if _, err := pgx.ParseConfig(cfg.DSN); err != nil {
		return nil, fmt.Errorf("sqlstore: notifier DSN: %w", err)
	}
	n := &Notifier{st: cfg.Store, dsn: cfg.DSN, channel: cfg.Channel, keepalive: cfg.Keepalive, log: cfg.Logger,
		origin: strings.ToLower(crand.Text()[:16])}
	if n.channel == "" {
		n.channel = DefaultChannel
	}
	if n.keepalive <= 0 {
		n.keepalive = 30 * time.Second
	}
	if n.log == nil {
		n.log = slog.New(slog.DiscardHandler)
	}
	return n, nil
}

// ApplicationName is the listening connection's application_name (pg_stat_activity).
func (n *Notifier) ApplicationName() string { return "motlan-listen-" + n.origin }

// Listening reports whether the listening connection is up.
func (n *Notifier) Listening() bool { return n.listening.Load() }

// Publish announces that request id changed.
func (n *Notifier) Publish(ctx context.Context, id string) error {
	if _, err := n.st.w.db.ExecContext(ctx, "SELECT pg_notify($1, $2)", n.channel, n.origin+" "+id); err != nil {
		return wrapWrite("notify", err)
	}
	return nil
}

// Subscribe listens until ctx ends, reconnecting as long as it takes.
func (n *Notifier) Subscribe(ctx context.Context, fn func(id string)) error {
	wait := minBackoff
	for {
		up, err := n.listen(ctx, fn)
		if ctx.Err() != nil {
			return nil
		}
		if up {
			wait = minBackoff // it worked for a while: start the backoff over
		}
		n.log.Warn("sqlstore: the change notification connection is down; reconnecting", "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait/2 + rand.N(wait/2+1)):
		}
		wait = min(2*wait, maxBackoff)
	}
}

// listen runs one listening connection until it fails or ctx ends; up reports whether
// it got as far as LISTEN.
func (n *Notifier) listen(ctx context.Context, fn func(id string)) (up bool, err error) {
	cfg, err := pgx.ParseConfig(n.dsn)
	if err != nil {
		return false, err
	}
	cfg.RuntimeParams["application_name"] = n.ApplicationName()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := pgx.ConnectConfig(cctx, cfg)
	if err == nil {
		_, err = conn.Exec(cctx, "LISTEN "+pgx.Identifier{n.channel}.Sanitize())
	}
	cancel()
	if err != nil {
		if conn != nil {
			_ = conn.Close(context.Background())
		}
		return false, err
	}
	defer conn.Close(context.Background())
	n.listening.Store(true)
	defer n.listening.Store(false)
	fn("") // what was announced before this LISTEN is unknown: every waiter re-reads once
	for {
		wctx, cancel := context.WithTimeout(ctx, n.keepalive)
		note, err := conn.WaitForNotification(wctx)
		silent := wctx.Err() != nil
		cancel()
		switch {
		case ctx.Err() != nil:
			return true, nil
		case err != nil && silent && !conn.IsClosed():
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err = conn.Ping(pctx)
			cancel()
			if err != nil {
				return true, err
			}
			continue
		case err != nil:
			return true, err
		}
		origin, id, ok := strings.Cut(note.Payload, " ")
		if ok && origin != n.origin && id != "" {
			fn(id)
		}
	}
}

var _ signing.Notifier = (*Notifier)(nil)
