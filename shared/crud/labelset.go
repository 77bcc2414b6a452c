package crud

import k8slabels "k8s.io/apimachinery/pkg/labels"

func labelsSet(m map[string]string) k8slabels.Set { return k8slabels.Set(m) }
