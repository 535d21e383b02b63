package normalize

// optOutWords are values of an opt-out column, folded, in nl, fr, en and de.
var optOutWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range []string{
		"yes", "y", "true", "t", "1", "x", "ja", "j", "oui", "o", "si",
		"unsubscribed", "unsubscribe", "opted out", "opt-out", "optout", "opt out", "blocked", "do not email", "dnc",
		"uitgeschreven", "afgemeld", "uitschrijven", "geen mails",
		"désabonné", "désabonnée", "désinscrit", "désinscrite", "désabonnement",
		"abgemeldet", "ausgetragen", "abbestellt",
		// Status columns: Mailchimp's cleaned, listmonk's blocklisted,
		// Flexmail's and Brevo's blacklisted.
		"cleaned", "bounced", "blocklisted", "blacklisted", "complained",
	} {
		m[fold(w)] = true
	}
	for _, w := range []string{
		"no", "n", "false", "f", "0", "nee", "non", "nein", "",
		"subscribed", "opted in", "opt-in", "optin", "opt in", "active",
		"ingeschreven", "aangemeld", "abonné", "abonnée", "inscrit", "angemeldet", "abonniert",
		// listmonk's enabled, Flexmail's confirmed.
		"enabled", "confirmed",
	} {
		m[fold(w)] = false
	}
	return m
}()

// OptOut reads an opt-out cell. known is false for a value it does not
// understand; such a value counts as opted out, since consent is never
// assumed.
func OptOut(raw string) (optedOut, known bool) {
	v, ok := optOutWords[fold(raw)]
	if !ok {
		return true, false
	}
	return v, true
}
