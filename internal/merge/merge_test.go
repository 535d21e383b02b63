package merge

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
)

func rules(policy ccv1.ConflictPolicy) *Rules {
	return NewRules(&ccv1.ContactConversionSpec{
		DefaultLanguage: "nl",
		Sources: []ccv1.Source{
			{Name: "fair", DisplayName: "Salon X 2018"},
			{Name: "optin", DisplayName: "Opt-in form"},
			{Name: "shop", Segment: "customers"},
			{Name: "shop-old", Segment: "customers"},
			{Name: "cleaned", OptOuts: &ccv1.OptOuts{AllRows: true, Scope: ccv1.OptOutScopeGlobal, Kind: ccv1.OptOutKindBounce}},
		},
		Segments: []ccv1.RuleSegment{
			{Name: "french-speakers", Match: ccv1.SegmentMatch{Language: "fr"}},
			{Name: "fair-vips", Match: ccv1.SegmentMatch{Sources: []string{"fair"}, Fields: map[string]string{"tier": "VIP"}}},
		},
		Conflicts: ccv1.ConflictsSpec{Policy: policy, Resolutions: []ccv1.Resolution{
			{Key: "res@x.be", Field: "firstName", Value: "Resolved"},
		}},
	})
}

func TestMerge(t *testing.T) {
	tests := []struct {
		name   string
		policy ccv1.ConflictPolicy
		rows   []Row
		want   Contact
	}{
		{name: "one row", rows: []Row{{Key: "a@x.be", Source: 0, Email: "A@x.be", FirstName: "An", Language: "fr"}},
			want: Contact{Key: "a@x.be", Email: "A@x.be", FirstName: "An", Language: "fr", Sources: []string{"Salon X 2018"},
				Segments: map[string]string{"fair": Subscribed, "french-speakers": Subscribed}}},
		{name: "sources are appended once, in order", rows: []Row{
			{Key: "a@x.be", Source: 0, Email: "a@x.be"}, {Key: "a@x.be", Source: 1, Email: "A@X.BE"}, {Key: "a@x.be", Source: 0, Email: "a@x.be"}},
			want: Contact{Key: "a@x.be", Email: "a@x.be", Language: "nl", LanguageDefaulted: true,
				Sources: []string{"Salon X 2018", "Opt-in form"}, Segments: map[string]string{"fair": Subscribed, "optin": Subscribed}}},
		{name: "an opt-out wins in its own segment only", rows: []Row{
			{Key: "a@x.be", Source: 0, OptOut: true}, {Key: "a@x.be", Source: 1}},
			want: Contact{Key: "a@x.be", Language: "nl", LanguageDefaulted: true, Sources: []string{"Salon X 2018", "Opt-in form"},
				Segments: map[string]string{"fair": Unsubscribed, "optin": Subscribed}, OptOuts: []ImportedOptOut{{Source: "fair", Topic: "fair", Kind: ccv1.OptOutKindUnsubscribe}}}},
		{name: "an opt-out is never overridden by a later subscribe to the same segment", rows: []Row{
			{Key: "a@x.be", Source: 2, OptOut: true}, {Key: "a@x.be", Source: 3}},
			want: Contact{Key: "a@x.be", Language: "nl", LanguageDefaulted: true, Sources: []string{"shop", "shop-old"},
				Segments: map[string]string{"customers": Unsubscribed}, OptOuts: []ImportedOptOut{{Source: "shop", Topic: "customers", Kind: ccv1.OptOutKindUnsubscribe}}}},
		{name: "an opt-out in a later row still wins", rows: []Row{
			{Key: "a@x.be", Source: 2}, {Key: "a@x.be", Source: 3, OptOut: true}},
			want: Contact{Key: "a@x.be", Language: "nl", LanguageDefaulted: true, Sources: []string{"shop", "shop-old"},
				Segments: map[string]string{"customers": Unsubscribed}, OptOuts: []ImportedOptOut{{Source: "shop-old", Topic: "customers", Kind: ccv1.OptOutKindUnsubscribe}}}},
		{name: "equal values after trimming and case-folding merge silently", rows: []Row{
			{Key: "a@x.be", Source: 0, FirstName: "Jan ", LastName: "peeters"}, {Key: "a@x.be", Source: 1, FirstName: "JAN", LastName: "Peeters"}},
			want: Contact{Key: "a@x.be", FirstName: "Jan", LastName: "peeters", Language: "nl", LanguageDefaulted: true,
				Sources: []string{"Salon X 2018", "Opt-in form"}, Segments: map[string]string{"fair": Subscribed, "optin": Subscribed}}},
		{name: "values differing only in Unicode normalisation, spaces or case merge silently, the first spelling kept", rows: []Row{
			{Key: "a@x.be", Source: 0, FirstName: "Ame\u0301lie", LastName: "Van  den Berg"}, {Key: "a@x.be", Source: 1, FirstName: "AM\u00c9LIE ", LastName: "van den berg"}},
			want: Contact{Key: "a@x.be", FirstName: "Ame\u0301lie", LastName: "Van  den Berg", Language: "nl", LanguageDefaulted: true,
				Sources: []string{"Salon X 2018", "Opt-in form"}, Segments: map[string]string{"fair": Subscribed, "optin": Subscribed}}},
		{name: "an empty value never conflicts", rows: []Row{
			{Key: "a@x.be", Source: 0, FirstName: ""}, {Key: "a@x.be", Source: 1, FirstName: "Jan", Language: "nl"}},
			want: Contact{Key: "a@x.be", FirstName: "Jan", Language: "nl", Sources: []string{"Salon X 2018", "Opt-in form"},
				Segments: map[string]string{"fair": Subscribed, "optin": Subscribed}}},
		{name: "manual keeps the first value, unresolved", policy: ccv1.ConflictPolicyManual, rows: []Row{
			{Key: "a@x.be", Source: 0, FirstName: "Jan"}, {Key: "a@x.be", Source: 1, FirstName: "Johan"}, {Key: "a@x.be", Source: 2, FirstName: "Jean"}},
			want: Contact{Key: "a@x.be", FirstName: "Jan", Language: "nl", LanguageDefaulted: true,
				Sources:   []string{"Salon X 2018", "Opt-in form", "shop"},
				Segments:  map[string]string{"fair": Subscribed, "optin": Subscribed, "customers": Subscribed},
				Conflicts: []Conflict{{Field: "firstName", Values: []string{"Jan", "Johan", "Jean"}}}}},
		{name: "first source", policy: ccv1.ConflictPolicyFirstSource, rows: []Row{
			{Key: "a@x.be", Source: 0, FirstName: "Jan"}, {Key: "a@x.be", Source: 1, FirstName: "Johan"}},
			want: Contact{Key: "a@x.be", FirstName: "Jan", Language: "nl", LanguageDefaulted: true, Sources: []string{"Salon X 2018", "Opt-in form"},
				Segments:  map[string]string{"fair": Subscribed, "optin": Subscribed},
				Conflicts: []Conflict{{Field: "firstName", Values: []string{"Jan", "Johan"}, Resolved: true}}}},
		{name: "last source", policy: ccv1.ConflictPolicyLastSource, rows: []Row{
			{Key: "a@x.be", Source: 0, FirstName: "Jan"}, {Key: "a@x.be", Source: 1, FirstName: "Johan"}},
			want: Contact{Key: "a@x.be", FirstName: "Johan", Language: "nl", LanguageDefaulted: true, Sources: []string{"Salon X 2018", "Opt-in form"},
				Segments:  map[string]string{"fair": Subscribed, "optin": Subscribed},
				Conflicts: []Conflict{{Field: "firstName", Values: []string{"Jan", "Johan"}, Resolved: true}}}},
		{name: "a resolution wins over the policy", policy: ccv1.ConflictPolicyLastSource, rows: []Row{
			{Key: "res@x.be", Source: 0, FirstName: "Jan"}, {Key: "res@x.be", Source: 1, FirstName: "Johan"}},
			want: Contact{Key: "res@x.be", FirstName: "Resolved", Language: "nl", LanguageDefaulted: true, Sources: []string{"Salon X 2018", "Opt-in form"},
				Segments:  map[string]string{"fair": Subscribed, "optin": Subscribed},
				Conflicts: []Conflict{{Field: "firstName", Values: []string{"Jan", "Johan"}, Resolved: true}}}},
		{name: "custom fields merge and rule segments match them", rows: []Row{
			{Key: "a@x.be", Source: 0, Fields: map[string]string{"tier": "vip"}}, {Key: "a@x.be", Source: 1, Fields: map[string]string{"tier": "VIP", "city": "Gent"}}},
			want: Contact{Key: "a@x.be", Language: "nl", LanguageDefaulted: true, Fields: map[string]string{"tier": "vip", "city": "Gent"},
				Sources:  []string{"Salon X 2018", "Opt-in form"},
				Segments: map[string]string{"fair": Subscribed, "optin": Subscribed, "fair-vips": Subscribed}}},
		{name: "a rule segment is unsubscribed when every source segment is", rows: []Row{
			{Key: "a@x.be", Source: 1, Language: "fr", OptOut: true}},
			want: Contact{Key: "a@x.be", Language: "fr", Sources: []string{"Opt-in form"},
				Segments: map[string]string{"optin": Unsubscribed, "french-speakers": Unsubscribed}, OptOuts: []ImportedOptOut{{Source: "optin", Topic: "optin", Kind: ccv1.OptOutKindUnsubscribe}}}},
		{name: "a hard bounce opts out everywhere and marks the address undeliverable", rows: []Row{
			{Key: "a@x.be", Source: 0}, {Key: "a@x.be", Source: 4, OptOut: true, OptOutAt: "2024-03-02T10:15:00.000000000Z", OptOutReason: "550 mailbox unavailable"}},
			want: Contact{Key: "a@x.be", Language: "nl", LanguageDefaulted: true, Sources: []string{"Salon X 2018", "cleaned"},
				Segments: map[string]string{"fair": Unsubscribed, "cleaned": Unsubscribed}, GlobalOptOut: true, Undeliverable: true,
				OptOuts: []ImportedOptOut{{Source: "cleaned", Topic: "*", At: "2024-03-02T10:15:00.000000000Z", Reason: "550 mailbox unavailable", Kind: ccv1.OptOutKindBounce}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			policy := tc.policy
			if policy == "" {
				policy = ccv1.ConflictPolicyManual
			}
			got := rules(policy).Merge(tc.rows)
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Merge mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
