package auth

// Test vectors computed by autobahn-python itself (Debian's python3-autobahn
// 22.7.1 with python3-argon2 and python3-nacl): testdata/autobahn_vectors.py
// prints them as JSON, using autobahn.wamp.auth (derive_key, AuthWampCra,
// AuthScram, pbkdf2, derive_scram_credential), autobahn.wamp.cryptosign
// (CryptosignKey.sign_challenge) and argon2-cffi (low_level.hash_secret).
// The Go tests run the router side against them, and the Go test clients
// (written here from the spec, not from autobahn) must reproduce them.

const (
	// WAMP-NOTES §6 / autobahn test_wamp_auth.py.
	abDeriveKey = "qzcdsr9uu/L5hnss3kjNTRe490ETgA70ZBaB5rvnJ5Y=" // derive_key("L3L1YUE8Txlw", "salt123", 1000, 32)

	// AuthWampCra(authid="joe", secret="secret1").on_challenge for this
	// challenge string, unsalted and salted (salt123, 100 iterations, keylen 32).
	abCraChallenge = `{"authid": "joe", "authrole": "user", "authmethod": "wampcra", "authprovider": "static", "nonce": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYX", "timestamp": "2026-07-01T12:00:00.000Z", "session": 4242}`
	abCraPlainSig  = "wAEUmYj/XLa4YgjUZM6ZWeDoyAQLTNc41TBN2ZbYihA="
	abCraSaltedSig = "kr1B5iJIdlbiBUBJDrSCcK6wr+zPXdnOiJfYuvVpk/k="
	abCraSaltedKey = "prq7+YkJ1/KlW1X0YczMH8E8z7oCXX/N/ixnRmOLK48=" // derive_key("secret1", "salt123", 100, 32)

	// CryptosignKey.from_bytes(seed).sign_challenge, without and with a
	// tls-unique channel ID (autobahn's output equals the spec's vectors 1
	// and 4).
	abCsSeed      = "4d57d97a68f555696620a6d849c0ce582568518d729eb753dc7c732de2804510"
	abCsPub       = "1adfc8bfe1d35616e64dffbd900096f23b066f914c8c2ffbb66f6075b96e116d"
	abCsChallenge = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
	abCsChannelID = "62e935ae755f3d48f80d4d59f6121358c435722a67e859cc0caa8b539027f2ff"
	abCsSigNoCB   = "b32675b221f08593213737bef8240e7c15228b07028e19595294678c90d11c0cae80a357331bfc5cc9fb71081464e6e75013517c2cf067ad566a6b7b728e5d03ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
	abCsSigCB     = "9b6f41540c9b95b4b7b281c3042fa9c54cef43c842d62ea3fd6030fcb66e70b3e80d49d44c29d1635da9348d02ec93f3ed1ef227dfb59a07b580095c2b82f80f9d16ca518aa0c2b707f2b2a609edeca73bca8dd59817a633f35574ac6fd80d00"
	// autobahn's tls-unique channel ID is SHA-256 of the TLS Finished message.
	abTLSFinished  = "0102030405060708090a0b0c"
	abTLSChannelID = "206402cab345415716d9a33469feba57a90dc200c064bc0190b4191af058b0eb"

	// AuthScram(authid="alice", password="p4ssw0rd") with client nonce
	// abScramClientNonce answering an argon2id-13 challenge (t=2, m=1024).
	abScramClientNonce  = "AAECAwQFBgcICQoLDA0ODw=="
	abScramArgonNonce   = "AAECAwQFBgcICQoLDA0ODw==EBESExQVFhcYGRobHB0eHw=="
	abScramArgonSalt    = "AAECAwQFBgcICQoLDA0ODw=="
	abScramArgonProof   = "trf/KFRCxZIp73ZJNE8+IcfXKFo9JSbBe/5p+GG2cC0="
	abScramArgonSalted  = "ySTsgkygRC/Lz0ddCVpPK3XHyLG6CWTNcfzdTV+ToJM" // autobahn's SaltedPassword: unpadded base64 text
	abScramArgonAuthMsg = "n=alice,r=AAECAwQFBgcICQoLDA0ODw==,r=AAECAwQFBgcICQoLDA0ODw==EBESExQVFhcYGRobHB0eHw==,s=AAECAwQFBgcICQoLDA0ODw==,i=2,c=,r=AAECAwQFBgcICQoLDA0ODw==EBESExQVFhcYGRobHB0eHw=="
	abScramArgonStored  = "472a96e89a23e769f07b21766feeb293d3cdf2916b899b4fe4ba9ccd015eca69"
	abScramArgonServer  = "3a9ced2d8493b94851b46433996c98b9179c9caf18575313a715cdafd5470d50"
	abScramArgonSrvSig  = "ZhQsoCZEp8BeW1AePFfduwXXzQUL/qFZwI0na0UNAas=" // accepted by AuthScram.on_welcome

	// PBKDF2 (4096 iterations): AuthScram 22.7.1 cannot do PBKDF2 itself (it
	// passes the base64 salt string to pbkdf2(), which raises), so this uses
	// autobahn's pbkdf2() on the decoded salt and AuthScram's AuthMessage.
	abScramPbkdf2Salt   = "cGJrZGYyLXNhbHQtMDAwMQ=="
	abScramPbkdf2Nonce  = "AAECAwQFBgcICQoLDA0ODw==ICEiIyQlJicoKSorLC0uLw=="
	abScramPbkdf2Proof  = "Sz/IpezJIPc5UEJCuzZqN4zmSLt5AKHFfECz14wLjzY="
	abScramPbkdf2Stored = "94e5fcb807a63f5891a558a2ad5eba0327e3de4759b82f6923df384693e8285c"
	abScramPbkdf2Server = "5fdb419aa0131a5564266a5184ed555df0e2618b0630ffdd399022272c649977"
	abScramPbkdf2SrvSig = "Xnq9bc3wkPOQFYc3vayutuOsEprDd94y7Spfs99lWPw="

	// derive_scram_credential("alice@example.com", "p4ssw0rd"): argon2id-13,
	// t=4096, m=512, salt = SHA-256(email)[:16].
	abScramCredSalt   = "ff8d9819fc0e12bf0d24892e45987e24"
	abScramCredStored = "ce0f5e3a1ef75bd843147140491643684fcbd153253c98b814ae9a807e233526"
	abScramCredServer = "f1b423fb1e37f4d9fffe56dffea067f22b9b15888c32c8f7087d33a6e885f33e"

	// argon2-cffi hash_secret(b"ticket-xyz", b"0123456789abcdef", t=1, m=64,
	// p=1, hash_len=32, Argon2id): a ticket_hash another tool wrote.
	abArgon2PHC = "$argon2id$v=19$m=64,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$QaXE+ODcItBTkyY+jtIou8ziD6LduaSiTf6yDEkafc8"
)
