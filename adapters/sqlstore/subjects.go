package sqlstore

import (
	"context"
	"errors"
	"time"

	"github.com/motlan/motlan/idp/store"
)

var (
	qSubjectCitizen = "SELECT citizen_id FROM client_subjects WHERE client_id = ? AND subject = ?"
	qRecordSubject  = insertSQL("client_subjects", "client_id, subject, citizen_id, first_at") + " ON CONFLICT (client_id, subject) DO NOTHING"
)

// RecordSubject remembers the pair; see store.Subjects. It reads first, since the pair is
// almost always known already and on SQLite a read does not wait for the one writer.
func (s *Store) RecordSubject(ctx context.Context, clientID, subject, citizenID string, at time.Time) error {
	if _, err := s.SubjectCitizen(ctx, clientID, subject); err == nil {
		return nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	_, err := s.exec(ctx, qRecordSubject, clientID, subject, citizenID, ms(at))
	return wrapWrite("record subject", err)
}

// SubjectCitizen is the citizen clientID knows as subject, or store.ErrNotFound.
func (s *Store) SubjectCitizen(ctx context.Context, clientID, subject string) (string, error) {
	row, err := s.queryRow(ctx, qSubjectCitizen, clientID, subject)
	if err != nil {
		return "", wrapRead("subject citizen", err)
	}
	var id string
	if err := row.Scan(&id); err != nil {
		return "", wrapRead("subject citizen", err)
	}
	return id, nil
}

var _ store.Subjects = (*Store)(nil)
