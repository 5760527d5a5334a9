package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/loadgen"
)

// benchRedirectURI is the bench client's redirect URI. Nothing listens
// there: codes are issued through the core, never through a browser.
const benchRedirectURI = "http://127.0.0.1/callback"

// benchRefreshScope is what a typical relying party asks for: each grant
// then signs an access token and an ID token with the user's claims.
const benchRefreshScope = "openid profile email offline_access"

// refreshGrant prepares the refresh_grant scenario outside the measured
// time: one confidential client (client_secret_basic) and, for each of
// workers, its own refresh-token family, granted to one of the first hot
// seeded sessions through the core as the authorization page would (PKCE,
// then the code exchanged). The call it returns presents the worker's
// current refresh token to the token endpoint and keeps the successor: the
// chains are per worker, and each worker touches only its own slot.
func (b *bench) refreshGrant(ctx context.Context, client *http.Client, workers, hot int) (loadgen.Call, error) {
	auth := b.node.auth
	c, clientSecret, err := auth.CreateClient(ctx, gatehouse.ClientSpec{
		Name: "Gatehouse bench", AuthMethod: gatehouse.ClientAuthSecretBasic, FirstParty: true,
		RedirectURIs: []string{benchRedirectURI},
		GrantTypes:   []string{gatehouse.GrantAuthorizationCode, gatehouse.GrantRefreshToken},
	})
	if err != nil {
		return nil, fmt.Errorf("creating the bench client: %w", err)
	}
	tokens := make([]string, workers)
	for w := range tokens {
		if tokens[w], err = b.firstRefreshToken(ctx, c, w%hot); err != nil {
			return nil, fmt.Errorf("refresh_grant set-up, worker %d: %w", w, err)
		}
	}
	target := b.url + auth.Config().BasePath + "/oauth2/token"
	// RFC 6749 §2.3.1: the id and secret are form-urlencoded, then Basic.
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(c.ID)+":"+url.QueryEscape(clientSecret)))
	return func(ctx context.Context, w int, _ uint64) error {
		body := "grant_type=refresh_token&refresh_token=" + url.QueryEscape(tokens[w])
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", basic)
		next, err := postRefresh(client, req)
		if err != nil {
			return err
		}
		tokens[w] = next
		return nil
	}, nil
}

// firstRefreshToken runs an authorization of the i-th seeded session's
// user for c through the core and exchanges the code for tokens.
func (b *bench) firstRefreshToken(ctx context.Context, c gatehouse.OAuthClient, i int) (string, error) {
	auth := b.node.auth
	p, err := auth.Authenticate(ctx, b.seeds.token(i))
	if err != nil {
		return "", fmt.Errorf("seeded session %d: %w", i, err)
	}
	verifier := randomHex(32) // 64 characters of the RFC 7636 §4.1 set
	sum := sha256.Sum256([]byte(verifier))
	req, err := auth.ParseAuthorizationRequest(ctx, url.Values{
		"response_type": {"code"}, "client_id": {c.ID}, "redirect_uri": {benchRedirectURI}, "scope": {benchRefreshScope},
		"state": {randomHex(8)}, "nonce": {randomHex(8)},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	})
	if err != nil {
		return "", fmt.Errorf("authorization request: %w", err)
	}
	to, err := auth.Approve(ctx, req, p, false)
	if err != nil {
		return "", fmt.Errorf("approving: %w", err)
	}
	u, err := url.Parse(to)
	if err != nil {
		return "", fmt.Errorf("approval redirect %q: %w", to, err)
	}
	res, err := auth.Exchange(ctx, c, gatehouse.TokenRequest{
		GrantType: gatehouse.GrantAuthorizationCode, Code: u.Query().Get("code"), RedirectURI: benchRedirectURI, CodeVerifier: verifier,
	})
	if err != nil {
		return "", fmt.Errorf("exchanging the code: %w", err)
	}
	if res.RefreshToken == "" {
		return "", errors.New("the code exchange issued no refresh token")
	}
	return res.RefreshToken, nil
}

// postRefresh sends a refresh grant and returns the rotated refresh token.
// Anything but a 200 carrying one is an error whose text is the status and
// the OAuth error code, so the report groups failures by cause.
func postRefresh(client *http.Client, req *http.Request) (string, error) {
	res, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var out struct {
		RefreshToken string `json:"refresh_token"`
		Error        string `json:"error"`
	}
	err = json.NewDecoder(res.Body).Decode(&out)
	// Read to the end, so the connection is reused.
	_, _ = io.Copy(io.Discard, res.Body)
	switch {
	case res.StatusCode != http.StatusOK && out.Error != "":
		return "", fmt.Errorf("%w: %s", statusError{res.StatusCode, http.StatusOK}, out.Error)
	case res.StatusCode != http.StatusOK:
		return "", statusError{res.StatusCode, http.StatusOK}
	case err != nil:
		return "", fmt.Errorf("token response: %w", err)
	case out.RefreshToken == "":
		return "", errors.New("token response without a refresh_token")
	}
	return out.RefreshToken, nil
}
