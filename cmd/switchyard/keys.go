package main

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/switchyard/switchyard/auth"
)

func keygenCommand() *cli.Command {
	return &cli.Command{
		Name:  "keygen",
		Usage: "make a WAMP-Cryptosign (Ed25519) key pair",
		Description: `Prints a new key pair in hex. The public key goes into the router's config
(cryptosign: [PUBKEY]) or --cryptosign AUTHID:PUBKEY; the private key (its
32-byte seed) stays with the client.`,
		Action: func(c *cli.Context) error {
			pub, priv, err := auth.GenerateCryptosignKey()
			if err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "public:  %s\nprivate: %s\n", pub, priv)
			return nil
		},
	}
}

// readSecret takes a secret from a flag or, so that it stays out of the
// shell history and the process list, from the first line of stdin.
func readSecret(c *cli.Context, flag string) (string, error) {
	if v := c.String(flag); v != "" {
		return v, nil
	}
	line, err := bufio.NewReader(c.App.Reader).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the secret from stdin: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("no secret: pass --%s or write it to stdin", flag)
	}
	return line, nil
}

func deriveCommand() *cli.Command {
	return &cli.Command{
		Name:  "derive",
		Usage: "derive the stored form of a secret for the config file",
		Description: `Prints the config-file block that stores a secret without the secret
itself, so that a leaked config file does not leak passwords. The secret is
read from the flag or, better, from the first line of standard input.`,
		Subcommands: []*cli.Command{
			{
				Name:  "ticket",
				Usage: "an Argon2id hash of a ticket (ticket_hash)",
				Flags: []cli.Flag{&cli.StringFlag{Name: "ticket", Usage: "the ticket (default: read from stdin)"}},
				Action: func(c *cli.Context) error {
					t, err := readSecret(c, "ticket")
					if err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "ticket_hash: %q\n", auth.HashTicket(t))
					return nil
				},
			},
			{
				Name:  "wampcra",
				Usage: "a salted WAMP-CRA key (PBKDF2-HMAC-SHA256)",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "secret", Usage: "the password (default: read from stdin)"},
					&cli.StringFlag{Name: "salt", Usage: "the salt (default: 16 random bytes, base64)"},
					&cli.IntFlag{Name: "iterations", Value: 100000},
					&cli.IntFlag{Name: "keylen", Value: 32},
				},
				Action: func(c *cli.Context) error {
					secret, err := readSecret(c, "secret")
					if err != nil {
						return err
					}
					salt := c.String("salt")
					if salt == "" {
						b := make([]byte, 16)
						rand.Read(b)
						salt = base64.StdEncoding.EncodeToString(b)
					}
					key := auth.DeriveWampcraKey(secret, salt, c.Int("iterations"), c.Int("keylen"))
					if key == "" {
						return errors.New("wampcra: iterations and keylen must be positive (keylen at most 64)")
					}
					fmt.Fprintf(c.App.Writer, "wampcra:\n  key: %s\n  salt: %q\n  iterations: %d\n  keylen: %d\n", key, salt, c.Int("iterations"), c.Int("keylen"))
					return nil
				},
			},
			{
				Name:  "scram",
				Usage: "a SCRAM credential (salt, KDF parameters, stored and server keys)",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "password", Usage: "the password (default: read from stdin)"},
					&cli.StringFlag{Name: "kdf", Value: "argon2id-13", Usage: "argon2id-13 or pbkdf2 (autobahn-python 22.x supports only argon2id-13)"},
					&cli.IntFlag{Name: "iterations", Usage: "KDF iterations (default: the KDF's recommended)"},
					&cli.IntFlag{Name: "memory", Usage: "Argon2id memory in KiB (default: recommended)"},
				},
				Action: func(c *cli.Context) error {
					password, err := readSecret(c, "password")
					if err != nil {
						return err
					}
					cred, err := auth.DeriveScramCredential(password, auth.ScramParams{KDF: c.String("kdf"), Iterations: c.Int("iterations"), Memory: c.Int("memory")})
					if err != nil {
						return err
					}
					m := cred.Map()
					fmt.Fprintln(c.App.Writer, "scram:")
					for _, k := range []string{"kdf", "iterations", "memory", "salt", "stored_key", "server_key"} {
						if v, ok := m[k]; ok {
							fmt.Fprintf(c.App.Writer, "  %s: %v\n", k, v)
						}
					}
					return nil
				},
			},
		},
	}
}
