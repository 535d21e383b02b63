package desired

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
)

// ConverterServiceAccount is the identity of a conversion's Jobs; not
// wanted when spec.job.serviceAccountName names one the user manages.
func ConverterServiceAccount(cc *ccv1.ContactConversion) (*corev1.ServiceAccount, bool) {
	return &corev1.ServiceAccount{ObjectMeta: converterMeta(cc)}, cc.Spec.Job.ServiceAccountName == ""
}

// ConverterRole lets a conversion's Jobs read their own ContactConversion,
// patch its status and conflict report, and read only the Secrets and
// ConfigMaps the spec names. Not wanted with a user-managed ServiceAccount.
func ConverterRole(cc *ccv1.ContactConversion) (*rbacv1.Role, bool) {
	if cc.Spec.Job.ServiceAccountName != "" {
		return &rbacv1.Role{ObjectMeta: converterMeta(cc)}, false
	}
	var secrets, configMaps []string
	for _, ref := range cc.Spec.References() {
		switch ref.Kind {
		case ccv1.KindSecret:
			secrets = append(secrets, ref.Name)
		case ccv1.KindConfigMap:
			configMaps = append(configMaps, ref.Name)
		}
	}
	rules := []rbacv1.PolicyRule{
		{APIGroups: []string{ccv1.GroupVersion.Group}, Resources: []string{"contactconversions"},
			ResourceNames: []string{cc.Name}, Verbs: []string{"get"}},
		{APIGroups: []string{ccv1.GroupVersion.Group}, Resources: []string{"contactconversions/status"},
			ResourceNames: []string{cc.Name}, Verbs: []string{"get", "patch"}},
		{APIGroups: []string{""}, Resources: []string{"secrets"},
			ResourceNames: []string{cc.ConflictsSecretName()}, Verbs: []string{"get", "patch", "update"}},
		{APIGroups: []string{""}, Resources: []string{"configmaps"},
			ResourceNames: []string{cc.InventoryConfigMapName()}, Verbs: []string{"get", "patch", "update"}},
	}
	if names := uniqueSorted(configMaps); len(names) > 0 {
		rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"configmaps"},
			ResourceNames: names, Verbs: []string{"get"}})
	}
	if names := uniqueSorted(secrets); len(names) > 0 {
		rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"},
			ResourceNames: names, Verbs: []string{"get"}})
	}
	return &rbacv1.Role{ObjectMeta: converterMeta(cc), Rules: rules}, true
}

// ConverterRoleBinding binds ConverterRole to ConverterServiceAccount.
func ConverterRoleBinding(cc *ccv1.ContactConversion) (*rbacv1.RoleBinding, bool) {
	if cc.Spec.Job.ServiceAccountName != "" {
		return &rbacv1.RoleBinding{ObjectMeta: converterMeta(cc)}, false
	}
	name := ConverterName(cc)
	return &rbacv1.RoleBinding{
		ObjectMeta: converterMeta(cc),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: cc.Namespace}},
	}, true
}

// ConflictsSecret is the (initially empty) conflict report the Jobs fill:
// a Secret, since it holds contacts' keys and values.
func ConflictsSecret(cc *ccv1.ContactConversion) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{
		Name: cc.ConflictsSecretName(), Namespace: cc.Namespace, Labels: ConversionLabels(cc),
	}, Type: corev1.SecretTypeOpaque}
}

// InventoryConfigMap is the (initially empty) inventory the Jobs fill: a
// ConfigMap, since it holds no personal data, and whoever may view the
// conversion may read it.
func InventoryConfigMap(cc *ccv1.ContactConversion) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Name: cc.InventoryConfigMapName(), Namespace: cc.Namespace, Labels: ConversionLabels(cc),
	}}
}

func converterMeta(cc *ccv1.ContactConversion) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: ConverterName(cc), Namespace: cc.Namespace, Labels: ConversionLabels(cc)}
}

func uniqueSorted(in []string) []string {
	slices.Sort(in)
	return slices.Compact(in)
}

// InPlace tells whether current, as read from the cluster, already holds
// everything want sets: its labels, and a Role's rules or a RoleBinding's
// role and subjects. Other labels and fields, such as annotations others
// add, do not matter. An object in place needs no write.
func InPlace(current, want metav1.Object) bool {
	for k, v := range want.GetLabels() {
		if current.GetLabels()[k] != v {
			return false
		}
	}
	switch w := want.(type) {
	case *corev1.ServiceAccount:
		_, ok := current.(*corev1.ServiceAccount)
		return ok
	case *rbacv1.Role:
		c, ok := current.(*rbacv1.Role)
		return ok && equality.Semantic.DeepEqual(c.Rules, w.Rules)
	case *rbacv1.RoleBinding:
		c, ok := current.(*rbacv1.RoleBinding)
		return ok && c.RoleRef == w.RoleRef && equality.Semantic.DeepEqual(c.Subjects, w.Subjects)
	}
	return false
}
