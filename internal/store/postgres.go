package store

import (
	"context"
	"errors"
)

// OpenPostgres opens a PostgreSQL database.
func OpenPostgres(ctx context.Context, url string) (Store, error) {
	return nil, errors.New("the PostgreSQL store is not available in this build; use sqlite:PATH")
}
