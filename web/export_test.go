package web

// SchemeForTest is one derived colour scheme, as hex strings.
type SchemeForTest struct {
	Primary, OnPrimary, Accent string
	Surfaces                   []string
}

// ThemeVariablesForTest derives the light and dark schemes of primary.
func ThemeVariablesForTest(primary string) ([]SchemeForTest, error) {
	ss, err := deriveSchemes(primary)
	if err != nil {
		return nil, err
	}
	var out []SchemeForTest
	for _, s := range ss {
		st := SchemeForTest{Primary: s.primary.String(), OnPrimary: s.onPrimary.String(), Accent: s.accent.String()}
		for _, c := range s.surfaces {
			st.Surfaces = append(st.Surfaces, c.String())
		}
		out = append(out, st)
	}
	return out, nil
}

// ContrastForTest is the WCAG contrast ratio of two hex colours.
func ContrastForTest(a, b string) float64 { return contrast(parseHex(a), parseHex(b)) }
