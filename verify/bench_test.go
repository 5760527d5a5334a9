package verify_test

import (
	"context"
	"testing"
)

// BenchmarkVerify measures a full Verify of a valid token (static keys, so
// no network): parsing, signature, claims.
func BenchmarkVerify(b *testing.B) {
	k := keys()
	v := newVerifier(b, allStatic(), nil)
	for _, s := range []signer{k.ed, k.rsa, k.ec} {
		tok := mint(b, s, nil)
		b.Run(s.alg, func(b *testing.B) {
			b.ReportAllocs()
			ctx := context.Background()
			for b.Loop() {
				if _, err := v.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
