// Command perpetua is Perpetua's single binary: a continual-learning
// engine for e-commerce. It parses flags, builds the library's components
// and maps errors to exit codes; the logic lives in internal/.
//
// Exit codes: 0 success, 1 runtime failure, 2 usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// usageError marks errors caused by how the command was invoked.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

const topUsage = `perpetua: a continual-learning engine for e-commerce

Usage:
  perpetua serve [--config FILE] [--data-dir DIR] [--addr HOST:PORT] [--sync POLICY] [--log nats://HOST:4222] [--role all|train|serve]
  perpetua nats  --dir DIR [--addr 127.0.0.1:4222] [--sync-always]
  perpetua demo  [--days N] [--seed S] [--data-dir DIR]
  perpetua eval classify --data FILE.csv --target COLUMN [--model M] [--predictions OUT.csv] [--json]
  perpetua bench [ingest] [--events N] [--batch N] [--clients N] [--sync POLICY] [--json]
  perpetua bench purchase [--examples N] [--vocab N] [--hidden 64,32] [--json]
  perpetua eval purchase --data FILE [--format criteo|csv] [--model deep|deepfm|wide] [--predictions OUT.csv] [--json]
  perpetua eval risk --data DIR_OR_FILE [--delay 7d] [--model arf|hat|logistic|ensemble] [--predictions OUT.csv] [--json]
  perpetua eval forecast --data DIR [--format m4|series] [--horizon H] [--forecasts OUT.csv] [--json]
  perpetua ope --logs FILE.csv --policy P [--estimators all] [--json]
  perpetua loadtest --target http://127.0.0.1:PORT [--endpoints ingest,predict,recommend,feedback,forecast,risk] [--duration 5s] [--json]
  perpetua route --instance FILE [--time-limit 10s] [--seed N] [--objective distance|hierarchical] [--sol OUT.sol] [--json]
  perpetua models list|show VERSION|promote --model NAME [--version N]|rollback [--target URL]
  perpetua version

Run 'perpetua COMMAND --help' for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

func exitCode(err error, stderr io.Writer) int {
	var ue usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "perpetua: %v\n", err)
		return 2
	default:
		fmt.Fprintf(stderr, "perpetua: %v\n", err)
		return 1
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, topUsage)
		return usagef("no command given")
	}
	switch args[0] {
	case "serve":
		return cmdServe(ctx, args[1:], stdout, stderr)
	case "demo":
		return cmdDemo(ctx, args[1:], stdout, stderr)
	case "eval":
		return cmdEval(ctx, args[1:], stdout, stderr)
	case "bench":
		return cmdBench(ctx, args[1:], stdout, stderr)
	case "ope":
		return cmdOPE(ctx, args[1:], stdout, stderr)
	case "route":
		return cmdRoute(ctx, args[1:], stdout, stderr)
	case "models":
		return cmdModels(ctx, args[1:], stdout, stderr)
	case "nats":
		return cmdNATS(ctx, args[1:], stdout, stderr)
	case "loadtest":
		return cmdLoadtest(ctx, args[1:], stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "perpetua", version())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, topUsage)
		return nil
	}
	fmt.Fprint(stderr, topUsage)
	return usagef("unknown command %q", args[0])
}

// newFlagSet returns a FlagSet that reports errors instead of exiting.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("perpetua "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parse parses args and turns flag errors into usage errors.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usagef("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
}
