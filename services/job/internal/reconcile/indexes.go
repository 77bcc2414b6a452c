package reconcile

import (
	"sort"
	"strconv"
	"strings"
)

// parseIndexes reads a completedIndexes string ("1,3-5,7") into a set,
// dropping indexes outside [0, completions).
func parseIndexes(s string, completions int32) map[int32]bool {
	out := map[int32]bool{}
	if s == "" {
		return out
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.ParseInt(lo, 10, 32)
		if err != nil {
			continue
		}
		b := a
		if isRange {
			if b, err = strconv.ParseInt(hi, 10, 32); err != nil {
				continue
			}
		}
		for i := a; i <= b && i < int64(completions); i++ {
			if i >= 0 {
				out[int32(i)] = true
			}
		}
	}
	return out
}

// formatIndexes writes a set of indexes as Kubernetes' interval list ("1,3-5,7").
func formatIndexes(set map[int32]bool) string {
	idx := make([]int, 0, len(set))
	for i := range set {
		idx = append(idx, int(i))
	}
	sort.Ints(idx)
	var b strings.Builder
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && idx[j+1] == idx[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(idx[i]))
		if j > i {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(idx[j]))
		}
		i = j + 1
	}
	return b.String()
}
