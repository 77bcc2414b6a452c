package crud

import (
	k8slabels "k8s.io/apimachinery/pkg/labels"

	"github.com/podwarden/podwarden/shared/labels"
)

func labelsSet(m map[string]string) k8slabels.Set { return k8slabels.Set(m) }

// labelEqualities are the selector's key=value requirements, matched in SQL so a
// `-l app=x` list decodes only what it may return (the Matcher still applies all).
func labelEqualities(selector string) map[string]string {
	sel, err := labels.Parse(selector)
	if err != nil {
		return nil
	}
	return labels.Equalities(sel)
}
