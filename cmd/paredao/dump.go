package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/paredao/paredao/dump"
)

// dumpSettings are dump's flags.
type dumpSettings struct {
	opts dump.Options
}

func parseDump(args []string, env func(string) string, out io.Writer) (*dumpSettings, error) {
	def := envDefault(env)
	fs := flag.NewFlagSet("paredao dump", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		// usage text: flag's PrintDefaults does not check either
		_, _ = fmt.Fprintln(out, "usage: paredao dump TOPIC [--from-beginning] [--exit] [FLAGS]\n\n"+
			"TOPIC is any topic of the pipeline (votes, ballots, windows, paredoes, guard-table, tally-table); flags:")
		fs.PrintDefaults()
	}
	brokers := brokerFlags(fs, def)
	boolDef := func(name string) (bool, error) {
		v, err := strconv.ParseBool(def(name, "false"))
		if err != nil {
			return false, fmt.Errorf("dump: %s: %w", envName(name), err)
		}
		return v, nil
	}
	fromDef, err := boolDef("from-beginning")
	if err != nil {
		return nil, err
	}
	exitDef, err := boolDef("exit")
	if err != nil {
		return nil, err
	}
	from := fs.Bool("from-beginning", fromDef, "start at each partition's earliest offset; default: at the end, only new records ($PAREDAO_FROM_BEGINNING)")
	exit := fs.Bool("exit", exitDef, "stop at the high watermarks taken at the start instead of following ($PAREDAO_EXIT)")
	// TOPIC before or after the flags
	var topic string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		topic, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	rest := fs.Args()
	if topic == "" && len(rest) > 0 {
		topic, rest = rest[0], rest[1:]
		if err := fs.Parse(rest); err != nil {
			return nil, err
		}
		rest = fs.Args()
	}
	switch {
	case topic == "":
		fs.Usage()
		return nil, errors.New("dump: need a TOPIC")
	case len(rest) > 0:
		return nil, fmt.Errorf("dump: unexpected arguments %q", rest)
	}
	return &dumpSettings{opts: dump.Options{Brokers: brokers(), Topic: topic, FromBeginning: *from, Exit: *exit}}, nil
}

// runDump is `paredao dump`: the records of a topic as JSON lines on
// stdout, until interrupted (or, with --exit, at the high watermarks taken
// at the start). Status 2 for bad arguments or a topic the brokers do not
// have, 1 for any other failure.
func runDump(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) error {
	s, err := parseDump(args, env, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	if err != nil {
		return &exitError{2, err}
	}
	if err := dump.Run(ctx, s.opts, stdout); err != nil {
		if errors.Is(err, dump.ErrUnknownTopic) {
			return &exitError{2, err}
		}
		return err
	}
	return nil
}
