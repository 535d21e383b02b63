package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/contactconverter/contact-converter/internal/pgtest"
	"github.com/contactconverter/contact-converter/internal/store"
)

// Eight openers of a fresh database at the same moment (the pods of an
// Indexed Job, a Job beside a preference-center replica): every one
// migrates or waits for the one that does, and none fails.
func TestConcurrentFirstOpensAllSucceed(t *testing.T) {
	server := pgtest.Start(t)
	for name, newDB := range map[string]func(i int) string{
		"postgres": func(i int) string { return pgtest.NewDatabase(t, server, fmt.Sprintf("fresh%d", i)) },
		"sqlite":   func(i int) string { return "sqlite:" + filepath.Join(t.TempDir(), "contacts.db") },
	} {
		t.Run(name, func(t *testing.T) {
			for round := range 3 {
				url := newDB(round)
				start := make(chan struct{})
				errs := make([]error, 8)
				var wg sync.WaitGroup
				for i := range errs {
					wg.Go(func() {
						<-start
						st, err := store.Open(context.Background(), url)
						if err == nil {
							err = st.Close()
						}
						errs[i] = err
					})
				}
				close(start)
				wg.Wait()
				for i, err := range errs {
					if err != nil {
						t.Errorf("round %d, opener %d: %v", round, i, err)
					}
				}
			}
		})
	}
}
