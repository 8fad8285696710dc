package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/paredao/paredao/audit"
)

// runVerify is `paredao verify CERTIFICATE`: it recounts the log the
// certificate covers, by the certificate's rules, and says equal (nil) or
// lists the differences (exitError 1); 2 when it could not verify.
func runVerify(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("paredao verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		_, _ = fmt.Fprintln(stderr, "usage: paredao verify [FLAGS] CERTIFICATE") // usage text: flag's PrintDefaults does not check either
		fs.PrintDefaults()
	}
	brokers := brokerFlags(fs, envDefault(env))
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &exitError{2, err}
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return &exitError{2, errors.New("verify: need one CERTIFICATE file")}
	}
	b, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return &exitError{2, fmt.Errorf("verify: %w", err)}
	}
	cert, err := audit.ParseCertificate(b)
	if err != nil {
		return &exitError{2, fmt.Errorf("verify: %w", err)}
	}
	progress := &output{w: stderr}
	diffs, err := audit.Verify(ctx, cert, audit.Options{Brokers: brokers(), Progress: func(p audit.Progress) { progress.printf("%s\n", p) }})
	if err != nil {
		return &exitError{2, fmt.Errorf("verify: %w", err)}
	}
	out := &output{w: stdout}
	if len(diffs) == 0 {
		out.printf("equal: the votes log recounts to the certificate of paredão %s (counted root %s, %d votes)\n",
			cert.Paredao.ID, cert.Merkle.CountedRoot, cert.Counted)
		return out.failed("verify")
	}
	out.printf("not equal: %d differences between the certificate and the votes log:\n", len(diffs))
	for _, d := range diffs {
		out.printf("  %s\n", d)
	}
	if err := out.failed("verify"); err != nil {
		return err
	}
	return &exitError{1, fmt.Errorf("verify: %d differences", len(diffs))}
}
