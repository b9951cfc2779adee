package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/motlan/motlan/keys/ca"
)

// CAStorage keeps the dev CA's records in the database, so every replica sees one CA.
func (s *Store) CAStorage() ca.Storage { return caStorage{s} }

type caStorage struct{ s *Store }

const (
	qCALoad   = "SELECT data FROM ca_records WHERE name = ?"
	qCASave   = "INSERT INTO ca_records (name, data) VALUES (?, ?)"
	qCAPrefix = "SELECT name FROM ca_records WHERE name >= ? AND name < ? ORDER BY name"
)

func (c caStorage) Load(ctx context.Context, name string) ([]byte, error) {
	row, err := c.s.queryRow(ctx, qCALoad, name)
	var data []byte
	if err == nil {
		err = row.Scan(&data)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", ca.ErrNotFound, name)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: load CA record: %w", err)
	}
	return data, nil
}

func (c caStorage) Save(ctx context.Context, name string, data []byte) error {
	_, err := c.s.exec(ctx, qCASave, name, data)
	if isUnique(err) {
		return fmt.Errorf("%w: %s", ca.ErrExists, name)
	}
	if err != nil {
		return fmt.Errorf("sqlstore: save CA record: %w", err)
	}
	return nil
}

func (c caStorage) List(ctx context.Context, prefix string) ([]string, error) {
	// A range scan rather than LIKE, whose wildcards a name could contain. Names are
	// ASCII, so prefix+"\x7f" bounds every name that starts with prefix.
	rows, err := c.s.query(ctx, qCAPrefix, prefix, prefix+"\x7f")
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list CA records: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	return out, rows.Err()
}
