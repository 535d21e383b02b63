package normalize

// Contact fields every list may carry.
const (
	FieldEmail     = "email"
	FieldFirstName = "firstName"
	FieldLastName  = "lastName"
	FieldLanguage  = "language"
	FieldOptOut    = "optOut"
	// FieldOptOutTime and FieldOptOutReason carry an exported opt-out's
	// original time and reason, kept as consent evidence. They are read only
	// where columns maps them.
	FieldOptOutTime   = "optOutTime"
	FieldOptOutReason = "optOutReason"
	// FieldFullName is a whole name in one column (listmonk's "name",
	// Gmail's "Name"): it fills empty first and last names.
	FieldFullName = "fullName"
)

// headerSynonyms maps folded header names in nl, fr, en and de to fields.
var headerSynonyms = func() map[string]string {
	m := map[string]string{}
	add := func(field string, headers ...string) {
		for _, h := range headers {
			m[fold(h)] = field
		}
	}
	// Gmail writes "E-mail 1 - Value", Outlook "E-mail Address", Brevo
	// "EMAIL", Flexmail "E-mailadres".
	add(FieldEmail, "email", "e-mail", "e mail", "mail", "email address", "e-mail address", "emailaddress",
		"e-mailadres", "emailadres", "mailadres", "adresse e-mail", "adresse email", "adresse mail", "courriel",
		"e-mail-adresse", "email-adresse", "mail-adresse", "e-mail 1 - value", "email 1 - value")
	add(FieldFirstName, "first name", "firstname", "given name", "forename", "voornaam", "prénom", "vorname")
	add(FieldLastName, "last name", "lastname", "surname", "family name", "achternaam", "familienaam", "naam",
		"nom", "nom de famille", "nachname", "familienname")
	add(FieldFullName, "name", "full name", "fullname", "display name", "volledige naam", "nom complet",
		"vollständiger name")
	// HubSpot: "Preferred language".
	add(FieldLanguage, "language", "lang", "taal", "voertaal", "langue", "sprache", "locale", "preferred language")
	// HubSpot: "Unsubscribed from all email"; Brevo: "EMAIL_BLACKLISTED".
	add(FieldOptOut, "opt-out", "optout", "opt out", "unsubscribed", "unsubscribe", "uitgeschreven", "afgemeld",
		"désabonné", "desinscrit", "désinscrit", "abgemeldet", "do not email", "unsubscribed from all email",
		"email blacklisted", "blacklisted", "email blocklisted", "blocklisted")
	return m
}()

// HeaderField returns the contact field a well-known header names, or "".
func HeaderField(header string) string { return headerSynonyms[fold(header)] }

// SameHeader tells whether two headers match case- and
// whitespace-insensitively.
func SameHeader(a, b string) bool { return fold(a) == fold(b) }
