package devcli

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"tempid/internal/cli"
	"tempid/internal/credential"
)

// runDevice is `tempid-dev device new`: a simulated phone's device key.
func runDevice(_ context.Context, e *cli.Env, args []string) error {
	if len(args) == 0 || args[0] != "new" {
		fmt.Fprintln(e.Stderr, "usage: tempid-dev device new --out key.pem")
		return cli.ErrUsage
	}
	fs := cli.NewFlags(e, "device new")
	out := fs.String("out", "", "file for the private key (PKCS #8 PEM)")
	if err := cli.Parse(fs, args[1:]); err != nil {
		return err
	}
	if *out == "" {
		fmt.Fprintln(e.Stderr, "tempid-dev device new: --out is required")
		return cli.ErrUsage
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if _, err := os.Stat(*out); err == nil {
		return fmt.Errorf("%s exists; not overwriting a device key", *out)
	}
	if err := cli.WriteAtomically(*out, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "%s\n", credential.JWK(&key.PublicKey))
	return nil
}

// runCode is `tempid-dev code`: make the current code from a pass and a device
// key, as the phone does every minute.
func runCode(_ context.Context, e *cli.Env, args []string) error {
	fs := cli.NewFlags(e, "code")
	passB64 := fs.String("pass", "", "the pass, base64url as the API returns it")
	keyFile := fs.String("device-key", "", "the device key file (from tempid-dev device new)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *passB64 == "" || *keyFile == "" {
		fmt.Fprintln(e.Stderr, "usage: tempid-dev code --pass B64 --device-key FILE")
		return cli.ErrUsage
	}
	pass, err := base64.RawURLEncoding.DecodeString(strings.TrimSpace(*passB64))
	if err != nil {
		return fmt.Errorf("--pass: not base64url: %w", err)
	}
	pemBytes, err := os.ReadFile(*keyFile)
	if err != nil {
		return err
	}
	block, _ := pem.Decode(pemBytes)
	if block == nil || block.Type != "PRIVATE KEY" {
		return errors.New("--device-key: not a PKCS #8 PEM private key")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return fmt.Errorf("--device-key: %w", err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return errors.New("--device-key: not an ECDSA P-256 key")
	}
	code, err := credential.MakeCode(pass, credential.StepAt(time.Now()), key, rand.Reader)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.Stdout, code)
	return nil
}
