package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// keysCmd administers the token signing keys.
type keysCmd struct {
	List   keysListCmd   `cmd:"" default:"withargs" help:"List the published signing keys: which one signs, and when each was created, starts signing and leaves the JWKS."`
	Rotate keysRotateCmd `cmd:"" help:"Publish a new signing key for each algorithm now; it signs one hour later, once every verifier can have fetched it. Old keys stay published until their tokens have expired. Does nothing for an algorithm whose next key is already waiting."`
}

type keysListCmd struct {
	JSON bool `help:"Print JSON lines instead of a table."`
}

// Run lists the keys; it creates the first ones if there are none.
func (c *keysListCmd) Run(ctx context.Context, ce *commandEnv) error {
	return withAuth(ctx, ce, func(sess *adminEnv) error {
		keys, err := sess.auth.Keys(ctx)
		if err != nil {
			return err
		}
		if c.JSON {
			enc := json.NewEncoder(ce.stdout)
			for _, k := range keys {
				if err := enc.Encode(keyJSON(k)); err != nil {
					return err
				}
			}
			return nil
		}
		printKeys(ce, keys, sess.auth.Now())
		return nil
	})
}

type keysRotateCmd struct{}

// Run publishes the next key of every algorithm.
func (c *keysRotateCmd) Run(ctx context.Context, ce *commandEnv) error {
	return withAuth(ctx, ce, func(sess *adminEnv) error {
		rotated, err := sess.auth.RotateKeys(ctx, true)
		if err != nil {
			return err
		}
		if len(rotated) == 0 {
			fmt.Fprintln(ce.stdout, "No key rotated: the next keys are already published and waiting to sign (see below).")
		} else {
			fmt.Fprintf(ce.stdout, "Published new %s keys; they sign from %s. Running servers pick them up within a minute.\n",
				strings.Join(rotated, " and "), sess.auth.Now().Add(gatehouse.JWKSPublishLead).UTC().Format(time.DateTime+" UTC"))
		}
		keys, err := sess.auth.Keys(ctx)
		if err != nil {
			return err
		}
		printKeys(ce, keys, sess.auth.Now())
		return nil
	})
}

type keyOut struct {
	ID         string     `json:"kid"`
	Algorithm  string     `json:"alg"`
	Generation int        `json:"generation"`
	Signing    bool       `json:"signing"`
	CreatedAt  time.Time  `json:"created_at"`
	ActiveAt   time.Time  `json:"active_at"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
}

func keyJSON(k gatehouse.KeyInfo) keyOut {
	o := keyOut{ID: k.ID, Algorithm: k.Algorithm, Generation: k.Generation, Signing: k.Signing,
		CreatedAt: k.CreatedAt.UTC(), ActiveAt: k.ActiveAt.UTC()}
	if !k.ExpiresAt.IsZero() {
		e := k.ExpiresAt.UTC()
		o.ExpiresAt = &e
	}
	return o
}

func printKeys(ce *commandEnv, keys []gatehouse.KeyInfo, now time.Time) {
	tw := tabwriter.NewWriter(ce.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tALG\tGEN\tSTATE\tCREATED\tSIGNS FROM\tLEAVES JWKS")
	for _, k := range keys {
		state := "published"
		switch {
		case k.Signing:
			state = "signing"
		case now.Before(k.ActiveAt):
			state = "next"
		case !k.ExpiresAt.IsZero():
			state = "retired"
		}
		leaves := "-"
		if !k.ExpiresAt.IsZero() {
			leaves = k.ExpiresAt.UTC().Format(time.DateTime)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\n", k.ID, k.Algorithm, k.Generation, state,
			k.CreatedAt.UTC().Format(time.DateTime), k.ActiveAt.UTC().Format(time.DateTime), leaves)
	}
	tw.Flush()
}

// withAuth runs fn with the core opened over the configured database.
func withAuth(ctx context.Context, ce *commandEnv, fn func(*adminEnv) error) error {
	sess, err := openAuth(ctx, ce)
	if err != nil {
		return err
	}
	defer sess.close()
	return fn(sess)
}
