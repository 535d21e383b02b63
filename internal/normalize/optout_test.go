package normalize

import (
	"testing"
	"time"
)

func TestOptOut(t *testing.T) {
	for raw, want := range map[string][2]bool{
		"yes": {true, true}, "JA": {true, true}, "oui": {true, true}, "1": {true, true}, "True": {true, true},
		"unsubscribed": {true, true}, "Désabonné": {true, true}, "desabonne": {true, true}, "uitgeschreven": {true, true},
		"abgemeldet": {true, true},
		"no":         {false, true}, "nee": {false, true}, "non": {false, true}, "0": {false, true}, "false": {false, true},
		"": {false, true}, " ": {false, true}, "abonné": {false, true},
		// What exporters write in a status column: Mailchimp, listmonk,
		// Flexmail, Brevo.
		"cleaned": {true, true}, "blocklisted": {true, true}, "blacklisted": {true, true}, "Bounced": {true, true},
		"enabled": {false, true}, "confirmed": {false, true},
		"pending": {true, false}, "unconfirmed": {true, false}, // no confirmed consent
		"maybe": {true, false}, // not understood: never assume consent
	} {
		got, known := OptOut(raw)
		if got != want[0] || known != want[1] {
			t.Errorf("OptOut(%q) = %v, %v; want %v, %v", raw, got, known, want[0], want[1])
		}
	}
}

func TestHeaderField(t *testing.T) {
	for header, want := range map[string]string{
		"E-mail": FieldEmail, "\ufeffEmail": FieldEmail, "Adresse e-mail": FieldEmail, "Email Address": FieldEmail,
		"Courriel": FieldEmail, "E-Mail-Adresse": FieldEmail, "email_address": FieldEmail,
		"Voornaam": FieldFirstName, "Prénom": FieldFirstName, "prenom": FieldFirstName, "First Name": FieldFirstName,
		"Vorname": FieldFirstName, "first_name": FieldFirstName,
		"Achternaam": FieldLastName, "Nom": FieldLastName, "Nachname": FieldLastName,
		"Taal": FieldLanguage, "Langue": FieldLanguage, "Sprache": FieldLanguage,
		"Uitgeschreven": FieldOptOut, "Désabonné": FieldOptOut,
		// Gmail, Outlook, HubSpot, Brevo, listmonk, Flexmail.
		"E-mail 1 - Value": FieldEmail, "E-mail Address": FieldEmail, "EMAIL": FieldEmail, "E-mailadres": FieldEmail,
		"Given Name": FieldFirstName, "FIRSTNAME": FieldFirstName, "PRENOM": FieldFirstName,
		"Family Name": FieldLastName, "LASTNAME": FieldLastName,
		"Preferred language":          FieldLanguage,
		"Unsubscribed from all email": FieldOptOut, "EMAIL_BLACKLISTED": FieldOptOut, "Blocklisted": FieldOptOut,
		"Name": FieldFullName, "Full Name": FieldFullName, "Volledige naam": FieldFullName, "Nom complet": FieldFullName,
		"Shoe size": "", "Klantnummer": "",
	} {
		if got := HeaderField(header); got != want {
			t.Errorf("HeaderField(%q) = %q, want %q", header, got, want)
		}
	}
	if !SameHeader("  E-Mail  Address", "e-mail address") || SameHeader("email", "e-mail") {
		t.Error("SameHeader compares case- and whitespace-insensitively only")
	}
}

func TestOptOutTime(t *testing.T) {
	want := time.Date(2024, 3, 2, 10, 15, 0, 0, time.UTC)
	for _, raw := range []string{"2024-03-02 10:15:00", "2024-03-02T10:15:00Z", "2024-03-02T11:15:00+01:00", " 02/03/2024 10:15 ",
		"02-03-2024 10:15", "02-03-2024 10:15:00", "2024-03-02 11:15:00 +0100 CET", "2024-03-02 11:15:00.000 +0100 CET"} {
		if got, ok := OptOutTime(raw); !ok || !got.Equal(want) {
			t.Errorf("OptOutTime(%q) = %v, %v; want %v", raw, got, ok, want)
		}
	}
	for _, raw := range []string{"", "yesterday", "13/13/2024"} {
		if _, ok := OptOutTime(raw); ok {
			t.Errorf("OptOutTime(%q) read a time", raw)
		}
	}
}
