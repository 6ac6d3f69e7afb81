package auth

import (
	"bytes"
	"context"
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"

	"github.com/switchyard/switchyard/spec"
)

// scramClient is the client side of SCRAM, written from the spec text and
// autobahn's documented behaviour (Argon2id's SaltedPassword is the unpadded
// base64 text of its output).
type scramClient struct {
	authid, password string
	nonce            string // client nonce sent in HELLO
	spec             bool   // wamp-scram flavour
	binding          string
	cbData           func() []byte // the client's view of the channel binding data

	// filled by answer
	authMessage string
	salted      []byte
	proof       string
}

func (c *scramClient) hello() *Request {
	ex := spec.Dict{"nonce": c.nonce}
	if c.binding != "" {
		ex["channel_binding"] = c.binding
	} else {
		ex["channel_binding"] = nil
	}
	return hello(c.authid, ex)
}

func (c *scramClient) answer(extra spec.Dict) (*spec.Authenticate, error) {
	nonce, _ := extra["nonce"].(string)
	saltB64, _ := extra["salt"].(string)
	iter, _ := extra["iterations"].(int64)
	salt, err := base64.StdEncoding.DecodeString(saltB64)
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(nonce, c.nonce) || len(nonce) <= len(c.nonce) {
		return nil, fmt.Errorf("server nonce %q does not extend ours", nonce)
	}
	switch extra["kdf"] {
	case "argon2id-13", "argon2id13":
		mem, _ := extra["memory"].(int64)
		raw := argon2.IDKey([]byte(c.password), salt, uint32(iter), uint32(mem), 1, 32)
		c.salted = []byte(base64.RawStdEncoding.EncodeToString(raw))
	case "pbkdf2":
		c.salted, err = pbkdf2.Key(sha256.New, c.password, salt, int(iter), 32)
		if err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("kdf %v", extra["kdf"])
	}
	var cb []byte
	if c.cbData != nil {
		cb = c.cbData()
	}
	var cpart string
	if c.spec {
		flag := "n"
		if c.binding != "" {
			flag = "p=" + c.binding
		}
		cpart = base64.StdEncoding.EncodeToString(append([]byte(flag+",,"), cb...))
	} else {
		cpart = c.binding
	}
	user := c.authid
	if c.spec {
		user = strings.ReplaceAll(strings.ReplaceAll(user, "=", "=3D"), ",", "=2C")
	}
	c.authMessage = "n=" + user + ",r=" + c.nonce + ",r=" + nonce + ",s=" + saltB64 + ",i=" + fmt.Sprint(iter) + ",c=" + cpart + ",r=" + nonce
	clientKey := hmacSHA256(c.salted, []byte("Client Key"))
	stored := sha256.Sum256(clientKey)
	sig := hmacSHA256(stored[:], []byte(c.authMessage))
	proof := make([]byte, 32)
	for i := range proof {
		proof[i] = clientKey[i] ^ sig[i]
	}
	c.proof = base64.StdEncoding.EncodeToString(proof)
	ex := spec.Dict{}
	if c.spec || c.binding != "" {
		ex["nonce"] = nonce
		ex["channel_binding"] = nil
		ex["cbind_data"] = nil
		if c.binding != "" {
			ex["channel_binding"] = c.binding
			ex["cbind_data"] = base64.StdEncoding.EncodeToString(cb)
		}
	}
	return &spec.Authenticate{Signature: c.proof, Extra: ex}, nil
}

func (c *scramClient) challenger(t *testing.T, method string) challengerFunc {
	return func(_ context.Context, m string, extra spec.Dict) (*spec.Authenticate, error) {
		if m != method {
			t.Errorf("method %q, want %q", m, method)
		}
		return c.answer(extra)
	}
}

// serverSignature is what the client expects in WELCOME.
func (c *scramClient) serverSignature() string {
	return base64.StdEncoding.EncodeToString(hmacSHA256(hmacSHA256(c.salted, []byte("Server Key")), []byte(c.authMessage)))
}

func mustHex(t *testing.T, s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func withServerNonce(t *testing.T, b []byte) {
	restore := scramServerNonce
	scramServerNonce = func() []byte { return b }
	t.Cleanup(func() { scramServerNonce = restore })
}

func seq(from, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(from + i)
	}
	return b
}

func TestScramAutobahnVectors(t *testing.T) {
	// The test client reproduces AuthScram.
	c := &scramClient{authid: "alice", password: "p4ssw0rd", nonce: abScramClientNonce}
	if _, err := c.answer(spec.Dict{"nonce": abScramArgonNonce, "kdf": "argon2id-13", "salt": abScramArgonSalt, "iterations": int64(2), "memory": int64(1024)}); err != nil {
		t.Fatal(err)
	}
	if string(c.salted) != abScramArgonSalted || c.authMessage != abScramArgonAuthMsg || c.proof != abScramArgonProof {
		t.Fatalf("test client: salted %s, auth message %s, proof %s", c.salted, c.authMessage, c.proof)
	}

	// The router verifies autobahn's proofs and produces the server
	// signature autobahn accepts.
	for _, v := range []struct {
		name          string
		cred          *ScramCredential
		nonceSuffix   []byte
		proof, srvSig string
		wantKeys      [2]string
	}{
		{"argon2id", &ScramCredential{KDF: KDFArgon2id, Iterations: 2, Memory: 1024, Salt: seq(0, 16),
			StoredKey: mustHex(t, abScramArgonStored), ServerKey: mustHex(t, abScramArgonServer)},
			seq(16, 16), abScramArgonProof, abScramArgonSrvSig, [2]string{abScramArgonStored, abScramArgonServer}},
		{"pbkdf2", &ScramCredential{KDF: KDFPBKDF2, Iterations: 4096, Salt: []byte("pbkdf2-salt-0001"),
			StoredKey: mustHex(t, abScramPbkdf2Stored), ServerKey: mustHex(t, abScramPbkdf2Server)},
			seq(32, 16), abScramPbkdf2Proof, abScramPbkdf2SrvSig, [2]string{abScramPbkdf2Stored, abScramPbkdf2Server}},
	} {
		t.Run(v.name, func(t *testing.T) {
			withServerNonce(t, v.nonceSuffix)
			a, err := NewScramAuthenticator(ScramOptions{Principals: mustPrincipals(t, Principal{AuthID: "alice", Role: "user", Scram: v.cred})})
			if err != nil {
				t.Fatal(err)
			}
			rec := &recorder{client: answer(v.proof)}
			id, err := a.Authenticate(ctxT(t), hello("alice", spec.Dict{"nonce": abScramClientNonce}), rec)
			if err != nil {
				t.Fatal(err)
			}
			if id.AuthExtra["scram_server_signature"] != v.srvSig || id.AuthMethod != "scram" {
				t.Fatalf("identity %+v, want server signature %s", id, v.srvSig)
			}
			// autobahn's AuthScram refuses unknown challenge keys.
			for k := range rec.challenges[0].extra {
				if !slices.Contains([]string{"nonce", "kdf", "salt", "iterations", "memory", "channel_binding"}, k) {
					t.Fatalf("challenge key %q would make AuthScram fail", k)
				}
			}
			// DeriveScramCredential computes the same keys from the password.
			d, err := DeriveScramCredential("p4ssw0rd", ScramParams{KDF: v.cred.KDF, Iterations: v.cred.Iterations, Memory: v.cred.Memory, Salt: v.cred.Salt})
			if err != nil {
				t.Fatal(err)
			}
			if hex.EncodeToString(d.StoredKey) != v.wantKeys[0] || hex.EncodeToString(d.ServerKey) != v.wantKeys[1] {
				t.Fatalf("derived %x %x", d.StoredKey, d.ServerKey)
			}
		})
	}
}

func TestDeriveScramCredentialMatchesAutobahn(t *testing.T) {
	if testing.Short() {
		t.Skip("argon2id with t=4096 takes seconds")
	}
	// derive_scram_credential's parameters: t=4096, m=512 KiB.
	c, err := DeriveScramCredential("p4ssw0rd", ScramParams{KDF: "argon2id-13", Iterations: 4096, Memory: 512, Salt: mustHex(t, abScramCredSalt)})
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(c.StoredKey) != abScramCredStored || hex.EncodeToString(c.ServerKey) != abScramCredServer {
		t.Fatalf("stored %x server %x", c.StoredKey, c.ServerKey)
	}
	m := c.Map()
	if m["kdf"] != "argon2id-13" || m["iterations"] != 4096 || m["memory"] != 512 || m["salt"] != abScramCredSalt || m["stored_key"] != abScramCredStored {
		t.Fatalf("Map() = %v", m)
	}
}

func TestDeriveScramCredential(t *testing.T) {
	c, err := DeriveScramCredential("pw", ScramParams{})
	if err != nil {
		t.Fatal(err)
	}
	if c.KDF != KDFArgon2id || c.Iterations != DefaultScramArgon2Iterations || c.Memory != DefaultScramArgon2Memory || len(c.Salt) != 16 || c.Validate() != nil {
		t.Fatalf("defaults %+v", c)
	}
	p, err := DeriveScramCredential("pw", ScramParams{KDF: "pbkdf2", Iterations: 1000, Memory: 99})
	if err != nil || p.Memory != 0 || p.Iterations != 1000 {
		t.Fatalf("%+v %v", p, err)
	}
	if _, ok := p.Map()["memory"]; ok {
		t.Fatal("pbkdf2 credential has memory")
	}
	for _, bad := range []ScramParams{{KDF: "scrypt"}, {KDF: "pbkdf2", Iterations: -1}, {Memory: 4}, {Salt: []byte("short")}, {Iterations: 20000}, {KDF: "pbkdf2", Iterations: 20_000_000}} {
		if _, err := DeriveScramCredential("pw", bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	if k, _ := ParseScramKDF("argon2id13"); k != KDFArgon2id {
		t.Fatal(k)
	}
}

func scramFixture(t *testing.T) (*Principals, map[string]string) {
	argon, err := DeriveScramCredential("argon-pw", ScramParams{KDF: KDFArgon2id, Iterations: 1, Memory: 64})
	if err != nil {
		t.Fatal(err)
	}
	pb, err := DeriveScramCredential("pbkdf2-pw", ScramParams{KDF: KDFPBKDF2, Iterations: 1000})
	if err != nil {
		t.Fatal(err)
	}
	odd, err := DeriveScramCredential("odd-pw", ScramParams{KDF: KDFPBKDF2, Iterations: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return mustPrincipals(t,
		Principal{AuthID: "ann", Role: "user", Scram: argon, Extra: spec.Dict{"tier": "gold"}},
		Principal{AuthID: "pete", Role: "admin", Scram: pb},
		Principal{AuthID: "a=b,c", Role: "user", Scram: odd},
		Principal{AuthID: "tic", Role: "user", Ticket: PlainTicket("x")},
	), map[string]string{"ann": "argon-pw", "pete": "pbkdf2-pw", "a=b,c": "odd-pw"}
}

func TestScram(t *testing.T) {
	ps, passwords := scramFixture(t)
	for _, method := range []string{MethodScram, MethodWampScram} {
		t.Run(method, func(t *testing.T) {
			isSpec := method == MethodWampScram
			a, err := NewScramAuthenticator(ScramOptions{Principals: ps, Method: method})
			if err != nil {
				t.Fatal(err)
			}
			if a.Method() != method {
				t.Fatal(a.Method())
			}
			client := func(authid, pw string) *scramClient {
				return &scramClient{authid: authid, password: pw, spec: isSpec, nonce: base64.StdEncoding.EncodeToString(randomBytes(16))}
			}
			for authid, pw := range passwords {
				c := client(authid, pw)
				rec := &recorder{client: c.challenger(t, method)}
				id, err := a.Authenticate(ctxT(t), c.hello(), rec)
				if err != nil {
					t.Fatalf("%s: %v", authid, err)
				}
				key := "scram_server_signature"
				if isSpec {
					key = "verifier"
				}
				if id.AuthExtra[key] != c.serverSignature() || id.AuthID != authid || id.AuthMethod != method {
					t.Fatalf("%s: identity %+v; client expects %s", authid, id, c.serverSignature())
				}
				ex := rec.challenges[0].extra
				kdf := ex["kdf"].(string)
				if isSpec && kdf != "argon2id13" && kdf != "pbkdf2" || !isSpec && kdf != "argon2id-13" && kdf != "pbkdf2" {
					t.Fatalf("kdf %q", kdf)
				}
			}
			c := client("ann", "argon-pw")
			id, _ := a.Authenticate(ctxT(t), c.hello(), c.challenger(t, method))
			if id.AuthExtra["tier"] != "gold" {
				t.Fatalf("principal extra lost: %v", id.AuthExtra)
			}

			t.Run("wrong password", func(t *testing.T) {
				c := client("pete", "argon-pw") // another user's password
				_, err := a.Authenticate(ctxT(t), c.hello(), c.challenger(t, method))
				wantRefused(t, err, ErrAuthenticationFailed, "argon-pw")
				c = client("pete", "hunter2-bad")
				_, err = a.Authenticate(ctxT(t), c.hello(), c.challenger(t, method))
				wantRefused(t, err, ErrAuthenticationFailed, "hunter2-bad")
			})
			t.Run("unknown user gets a stable mock challenge", func(t *testing.T) {
				var salts []string
				for _, authid := range []string{"mallory", "mallory", "trudy", "tic"} {
					c := client(authid, "guess")
					rec := &recorder{client: c.challenger(t, method)}
					_, err := a.Authenticate(ctxT(t), c.hello(), rec)
					wantRefused(t, err, ErrNoSuchPrincipal, "guess")
					ex := rec.challenges[0].extra
					salts = append(salts, ex["salt"].(string))
					// The mock looks like a real principal's challenge (the
					// first by authid: "a=b,c", PBKDF2 with 1000 iterations).
					if ex["iterations"] != int64(1000) || ex["kdf"] != "pbkdf2" {
						t.Fatalf("mock parameters %v", ex)
					}
				}
				if salts[0] != salts[1] || salts[0] == salts[2] || salts[2] == salts[3] {
					t.Fatalf("mock salts %v", salts)
				}
				b, _ := NewScramAuthenticator(ScramOptions{Principals: ps, Method: method})
				c := client("mallory", "guess")
				rec := &recorder{client: c.challenger(t, method)}
				b.Authenticate(ctxT(t), c.hello(), rec)
				if rec.challenges[0].extra["salt"] != salts[0] {
					t.Fatal("mock salt changes across authenticator instances (restarts)")
				}
			})
			t.Run("missing authid or nonce", func(t *testing.T) {
				c := client("", "x")
				_, err := a.Authenticate(ctxT(t), c.hello(), noChallenge(t))
				wantRefused(t, err, ErrAuthenticationFailed)
				for _, ex := range []spec.Dict{nil, {"nonce": 5}, {"nonce": "not base64!"}, {"nonce": "AAAA"}, {"nonce": strings.Repeat("A", 400)}} {
					_, err := a.Authenticate(ctxT(t), hello("ann", ex), noChallenge(t))
					wantRefused(t, err, ErrAuthenticationFailed)
				}
			})
			t.Run("malformed proof", func(t *testing.T) {
				for _, sig := range []string{"", "!!", base64.StdEncoding.EncodeToString(make([]byte, 31)), base64.StdEncoding.EncodeToString(make([]byte, 48)), strings.Repeat("A", 1000)} {
					c := client("ann", "argon-pw")
					_, err := a.Authenticate(ctxT(t), c.hello(), challengerFunc(func(_ context.Context, _ string, extra spec.Dict) (*spec.Authenticate, error) {
						r, err := c.answer(extra)
						r.Signature = sig
						return r, err
					}))
					wantRefused(t, err, ErrAuthenticationFailed)
				}
			})
			t.Run("replay", func(t *testing.T) {
				c := client("pete", "pbkdf2-pw")
				var captured *spec.Authenticate
				_, err := a.Authenticate(ctxT(t), c.hello(), challengerFunc(func(_ context.Context, _ string, extra spec.Dict) (*spec.Authenticate, error) {
					r, err := c.answer(extra)
					captured = r
					return r, err
				}))
				if err != nil {
					t.Fatal(err)
				}
				// Same HELLO nonce, new server nonce: the old proof fails.
				_, err = a.Authenticate(ctxT(t), c.hello(), challengerFunc(func(context.Context, string, spec.Dict) (*spec.Authenticate, error) {
					return &spec.Authenticate{Signature: captured.Signature, Extra: spec.Dict{}}, nil
				}))
				wantRefused(t, err, ErrAuthenticationFailed)
				// Replaying the whole AUTHENTICATE (with its old nonce) fails too.
				_, err = a.Authenticate(ctxT(t), c.hello(), challengerFunc(func(context.Context, string, spec.Dict) (*spec.Authenticate, error) {
					return captured, nil
				}))
				wantRefused(t, err, ErrAuthenticationFailed)
			})
			t.Run("AUTHENTICATE extra checks", func(t *testing.T) {
				for name, mutate := range map[string]func(spec.Dict){
					"other nonce":     func(e spec.Dict) { e["nonce"] = "AAAA" },
					"nonce not str":   func(e spec.Dict) { e["nonce"] = 1 },
					"binding changed": func(e spec.Dict) { e["channel_binding"] = "tls-unique" },
					"binding not str": func(e spec.Dict) { e["channel_binding"] = 7 },
				} {
					c := client("pete", "pbkdf2-pw")
					_, err := a.Authenticate(ctxT(t), c.hello(), challengerFunc(func(_ context.Context, _ string, extra spec.Dict) (*spec.Authenticate, error) {
						r, err := c.answer(extra)
						r.Extra["nonce"] = extra["nonce"]
						mutate(r.Extra)
						return r, err
					}))
					if err == nil {
						t.Fatalf("%s: accepted", name)
					}
				}
				if isSpec {
					c := client("pete", "pbkdf2-pw")
					_, err := a.Authenticate(ctxT(t), c.hello(), challengerFunc(func(_ context.Context, _ string, extra spec.Dict) (*spec.Authenticate, error) {
						r, err := c.answer(extra)
						delete(r.Extra, "nonce")
						return r, err
					}))
					wantRefused(t, err, ErrAuthenticationFailed)
				}
			})
			t.Run("timeout", func(t *testing.T) {
				c := client("pete", "pbkdf2-pw")
				_, err := a.Authenticate(shortCtx(t), c.hello(), blocking())
				wantTimeout(t, err)
			})
		})
	}
}

func TestScramChannelBinding(t *testing.T) {
	ps, _ := scramFixture(t)
	srv, cli := tlsPair(t, tls.VersionTLS12, nil)
	_, other := tlsPair(t, tls.VersionTLS12, nil)
	srv13, cli13 := tlsPair(t, tls.VersionTLS13, nil)
	data := func(state tls.ConnectionState, kind string) func() []byte {
		return func() []byte {
			b, err := TLSChannelBinding(&state, kind)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
	for _, method := range []string{MethodScram, MethodWampScram} {
		a, _ := NewScramAuthenticator(ScramOptions{Principals: ps, Method: method})
		for _, c := range []struct {
			kind     string
			srv, cli tls.ConnectionState
		}{{ChannelBindingTLSUnique, srv, cli}, {ChannelBindingTLSExporter, srv13, cli13}} {
			sc := &scramClient{authid: "pete", password: "pbkdf2-pw", spec: method == MethodWampScram, nonce: "cmFuZG9tIG5vbmNlIDE2Yg==", binding: c.kind, cbData: data(c.cli, c.kind)}
			req := sc.hello()
			req.TLS = &c.srv
			rec := &recorder{client: sc.challenger(t, method)}
			id, err := a.Authenticate(ctxT(t), req, rec)
			if err != nil {
				t.Fatalf("%s %s: %v", method, c.kind, err)
			}
			if method == MethodScram && rec.challenges[0].extra["channel_binding"] != c.kind {
				t.Fatalf("challenge %v", rec.challenges[0].extra)
			}
			if id.AuthExtra["verifier"] == nil && id.AuthExtra["scram_server_signature"] == nil {
				t.Fatal("no server signature")
			}
		}
		// Binding data of another connection: refused.
		sc := &scramClient{authid: "pete", password: "pbkdf2-pw", spec: method == MethodWampScram, nonce: "cmFuZG9tIG5vbmNlIDE2Yg==", binding: ChannelBindingTLSUnique, cbData: data(other, ChannelBindingTLSUnique)}
		req := sc.hello()
		req.TLS = &srv
		_, err := a.Authenticate(ctxT(t), req, sc.challenger(t, method))
		wantRefused(t, err, ErrAuthenticationFailed)
		// Missing cbind_data: refused.
		sc.cbData = data(cli, ChannelBindingTLSUnique)
		_, err = a.Authenticate(ctxT(t), req, challengerFunc(func(_ context.Context, _ string, extra spec.Dict) (*spec.Authenticate, error) {
			r, err := sc.answer(extra)
			delete(r.Extra, "cbind_data")
			return r, err
		}))
		wantRefused(t, err, ErrAuthenticationFailed)
		// Asked on a plain connection, or an unsupported type: refused at HELLO.
		req.TLS = nil
		_, err = a.Authenticate(ctxT(t), req, noChallenge(t))
		wantRefused(t, err, ErrAuthenticationFailed)
		req.AuthExtra["channel_binding"] = "tls-server-end-point"
		req.TLS = &srv
		_, err = a.Authenticate(ctxT(t), req, noChallenge(t))
		wantRefused(t, err, ErrAuthenticationFailed)
	}
	if !bytes.Equal(srv.TLSUnique, cli.TLSUnique) {
		t.Fatal("tls-unique differs between the two ends")
	}
}

func TestScramSASLprep(t *testing.T) {
	// SASLprep maps a non-ASCII space to a space: both spellings of the
	// authid give the same AuthMessage, as with autobahn and Crossbar.
	cred, _ := DeriveScramCredential("pw", ScramParams{KDF: KDFPBKDF2, Iterations: 1000})
	a, _ := NewScramAuthenticator(ScramOptions{Principals: mustPrincipals(t, Principal{AuthID: "jo\u00a0ann", Role: "user", Scram: cred})})
	c := &scramClient{authid: "jo ann", password: "pw", nonce: "cmFuZG9tIG5vbmNlIDE2Yg=="}
	req := hello("jo\u00a0ann", spec.Dict{"nonce": c.nonce})
	if _, err := a.Authenticate(ctxT(t), req, c.challenger(t, MethodScram)); err != nil {
		t.Fatal(err)
	}
	// A prohibited character (a control character) is refused.
	_, err := a.Authenticate(ctxT(t), hello("bad\u0007id", spec.Dict{"nonce": c.nonce}), noChallenge(t))
	wantRefused(t, err, ErrAuthenticationFailed)
	if _, err := NewScramAuthenticator(ScramOptions{Method: "scram-sha-1"}); err == nil {
		t.Fatal("unknown flavour accepted")
	}
}
