package store

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
)

// Suppressions are erased contacts, held as salted hashes of their keys.
type Suppressions struct {
	salt   []byte
	hashes map[string]bool
}

// Hash is the salted hash of a key, as stored.
func (s *Suppressions) Hash(key string) string { return HashKey(s.salt, key) }

// Contains tells whether a key was erased.
func (s *Suppressions) Contains(key string) bool {
	return len(s.hashes) > 0 && s.hashes[s.Hash(key)]
}

// Len is the number of suppressed keys.
func (s *Suppressions) Len() int { return len(s.hashes) }

// HashKey is HMAC-SHA256(salt, key) in hex.
func HashKey(salt []byte, key string) string {
	m := hmac.New(sha256.New, salt)
	m.Write([]byte(key))
	return hex.EncodeToString(m.Sum(nil))
}

func newSalt() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// erasures delete what the database holds about a contact; the consent
// history is kept as evidence under the key's salted hash, and the
// suppression keeps the contact from coming back.
var erasures = []string{
	`DELETE FROM contacts`,
	`DELETE FROM preference_overrides`,
	`DELETE FROM field_overrides`,
	`DELETE FROM pending_changes`,
	`DELETE FROM imported_opt_outs`,
}

// loadSuppressions reads the salt and every suppressed hash.
func loadSuppressions(ctx context.Context, c conn, saltOf func(context.Context, conn) ([]byte, error)) (*Suppressions, error) {
	salt, err := saltOf(ctx, c)
	if err != nil {
		return nil, err
	}
	rows, err := c.query(ctx, `SELECT key_hash FROM suppressions`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	s := &Suppressions{salt: salt, hashes: map[string]bool{}}
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			return nil, err
		}
		s.hashes[h] = true
	}
	return s, rows.Err()
}
