package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/perpetua-ml/perpetua/internal/policy/ope"
)

// cmdOPE estimates a policy's value from logged bandit feedback (Open
// Bandit Dataset format) with off-policy estimators and bootstrap
// intervals.
func cmdOPE(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("ope", stderr)
	logs := fs.String("logs", "", "an Open Bandit Dataset CSV of logged rounds with propensities (required)")
	items := fs.String("item-context", "", "item features CSV (default: item_context*.csv beside the logs, if any)")
	pol := fs.String("policy", "", "the target policy: uniform, greedy, egreedy, softmax, linucb, lints or bts (required)")
	est := fs.String("estimators", "all", "comma-separated: dm, ips, snips, dr, sndr, switch-dr, or all")
	reward := fs.String("reward-model", "logistic", "reward model of DM and the DR family: logistic, tree or hoeffding")
	boot := fs.Int("bootstrap", 500, "bootstrap resamples for the intervals (negative: none)")
	alpha := fs.Float64("alpha", 0.05, "interval error rate (0.05: 95% intervals)")
	seed := fs.Uint64("seed", 1, "seed of the policy and the bootstrap")
	strict := fs.Bool("strict", false, "treat a zero propensity as an error instead of dropping the row")
	jsonOut := fs.Bool("json", false, "print one JSON object on stdout")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *logs == "" || *pol == "" {
		return usagef("ope: --logs and --policy are required")
	}
	var names []string
	if *est != "" && *est != "all" {
		names = strings.Split(*est, ",")
	}
	rep, err := ope.Run(ctx, ope.Options{
		Logs: *logs, ItemContext: *items, Policy: *pol, Estimators: names, RewardModel: *reward,
		Eval: ope.Config{Bootstrap: *boot, Alpha: *alpha, Seed: *seed},
		Read: ope.ReadOptions{Strict: *strict},
	})
	if err != nil {
		return err
	}
	if *jsonOut {
		b, err := json.Marshal(rep)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	fmt.Fprintf(stdout, "policy %s on %s: %d rows evaluated (%d to learn), logged value %.5f\n", rep.Policy, *logs, rep.N, rep.NTrain, rep.LoggedValue)
	keys := make([]string, 0, len(rep.Estimators))
	for k := range rep.Estimators {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		e := rep.Estimators[k]
		fmt.Fprintf(stdout, "  %-9s %.5f  [%.5f, %.5f]\n", k, e.Estimate, e.CILow, e.CIHigh)
	}
	return nil
}
