package notify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// TableSender is the local sink: one row per notification in a table of
// the analytics database, which tests and developers read. It stands where
// SNS stands in AWS.
type TableSender struct{ db *pgxpool.Pool }

var _ Sender = (*TableSender)(nil)

// NewTableSender creates the notifications table when absent.
func NewTableSender(ctx context.Context, db *pgxpool.Pool) (*TableSender, error) {
	_, err := db.Exec(ctx, `CREATE TABLE IF NOT EXISTS notifications (
		notification_id VARCHAR(200) NOT NULL PRIMARY KEY,
		kind            VARCHAR(32)  NOT NULL,
		sale_id         VARCHAR(64)  NOT NULL,
		user_id         VARCHAR(128) NOT NULL,
		subject         VARCHAR(256) NOT NULL,
		body            VARCHAR(1024) NOT NULL,
		event_time      TIMESTAMP    NOT NULL,
		sent_at         TIMESTAMP    NOT NULL
	)`)
	if isDuplicate(err) { // a concurrent first start created it
		err = nil
	}
	if err != nil {
		return nil, fmt.Errorf("notifications table: %w", err)
	}
	return &TableSender{db: db}, nil
}

// Send writes the notification once; a second send of its id is a no-op.
func (s *TableSender) Send(ctx context.Context, n Notification) error {
	const ts = "2006-01-02 15:04:05.999999"
	_, err := s.db.Exec(ctx, `
		INSERT INTO notifications (notification_id, kind, sale_id, user_id, subject, body,
		    event_time, sent_at)
		SELECT CAST($1 AS VARCHAR(200)), CAST($2 AS VARCHAR(32)), CAST($3 AS VARCHAR(64)),
		       CAST($4 AS VARCHAR(128)), CAST($5 AS VARCHAR(256)), CAST($6 AS VARCHAR(1024)),
		       CAST($7 AS TIMESTAMP), CAST($8 AS TIMESTAMP)
		WHERE NOT EXISTS (SELECT 1 FROM notifications
		                  WHERE notification_id = CAST($9 AS VARCHAR(200)))`,
		n.ID, string(n.Kind), n.SaleID, n.UserID, n.Subject, n.Body,
		n.At.UTC().Format(ts), time.Now().UTC().Format(ts), n.ID)
	if isDuplicate(err) { // a concurrent send of the same id won
		return nil
	}
	return err
}

// Sent reads the notifications of a sale, oldest event first.
func (s *TableSender) Sent(ctx context.Context, saleID string) ([]Notification, error) {
	rows, err := s.db.Query(ctx, `
		SELECT notification_id, kind, sale_id, user_id, subject, body, event_time
		FROM notifications WHERE sale_id = $1 ORDER BY event_time, notification_id`, saleID)
	if err != nil {
		return nil, err
	}
	var out []Notification
	var n Notification
	_, err = pgx.ForEachRow(rows, []any{&n.ID, &n.Kind, &n.SaleID, &n.UserID, &n.Subject,
		&n.Body, &n.At}, func() error {
		out = append(out, n)
		return nil
	})
	return out, err
}

func isDuplicate(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "23505" || pgErr.Code == "42P07")
}
