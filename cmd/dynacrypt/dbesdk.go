package main

import (
	"bytes"
	"encoding/base64"
	"flag"
	"fmt"
	"os"

	"github.com/dynacrypt/dynacrypt"
	"github.com/dynacrypt/dynacrypt/dbesdk"
)

// dbesdkFlags choose AWS DB-ESDK's item format beside dynacrypt's, and the
// keyring of its items: a raw AES key, its namespace and name as the other
// services' configuration gives them. With them a command reads items of
// both formats; reencrypt's -to chooses the one it writes.
type dbesdkFlags struct {
	keyFile, namespace, name string
	suite                    string
	to                       string // reencrypt's -to: "dynacrypt" or "dbesdk"
}

func (f *dbesdkFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.keyFile, "dbesdk-raw-aes-key-file", "", "file holding the base64 of the 16, 24 or 32-byte AES key of DB-ESDK's raw AES keyring: the table holds (or is to hold) items in AWS DB-ESDK's format")
	fs.StringVar(&f.namespace, "dbesdk-key-namespace", "", "the raw AES keyring's key namespace, as DB-ESDK's configuration names it")
	fs.StringVar(&f.name, "dbesdk-key-name", "", "the raw AES keyring's key name, as DB-ESDK's configuration names it")
}

// registerTo registers reencrypt's -to and -dbesdk-suite.
func (f *dbesdkFlags) registerTo(fs *flag.FlagSet) {
	fs.StringVar(&f.to, "to", "dynacrypt", `the format the walk writes: "dynacrypt", or "dbesdk" (AWS DB-ESDK's, with the -dbesdk-* keyring); items in the other format are rewritten`)
	fs.StringVar(&f.suite, "dbesdk-suite", "6701", `with -to dbesdk, DB-ESDK's algorithm suite: "6701" (ECDSA P-384 signatures, DB-ESDK's default) or "6700"`)
}

// set reports whether the flags name a DB-ESDK keyring.
func (f *dbesdkFlags) set() bool { return f.keyFile != "" }

// writes reports whether the command writes DB-ESDK's format.
func (f *dbesdkFlags) writes() bool { return f.to == "dbesdk" }

// option returns the dbesdk.Format option the flags choose, nil if they
// name no keyring; errUsage if they contradict each other. With readOnly
// the Store writes dynacrypt's format, which needs a Cipher.
func (f *dbesdkFlags) option(readOnly bool) (dynacrypt.Option, error) {
	switch {
	case f.to != "" && f.to != "dynacrypt" && f.to != "dbesdk":
		return nil, errUsage
	case !f.set():
		if f.writes() || f.namespace != "" || f.name != "" {
			return nil, errUsage
		}
		return nil, nil
	case f.namespace == "" || f.name == "":
		return nil, errUsage
	}
	text, err := os.ReadFile(f.keyFile)
	if err != nil {
		return nil, err
	}
	key, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(text)))
	if err != nil {
		return nil, fmt.Errorf("-dbesdk-raw-aes-key-file: the file does not hold base64: %w", err)
	}
	defer clear(key)
	kr, err := dbesdk.RawAESKeyring(f.namespace, f.name, key)
	if err != nil {
		return nil, err
	}
	opts := []dbesdk.FormatOption{}
	switch f.suite {
	case "", "6701":
	case "6700":
		opts = append(opts, dbesdk.WithSuite(dbesdk.SuiteSymSig))
	default:
		return nil, errUsage
	}
	if readOnly {
		opts = append(opts, dbesdk.ReadOnly())
	}
	return dbesdk.Format(kr, opts...), nil
}
