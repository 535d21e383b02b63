package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ccv1 "github.com/contactconverter/contact-converter/api/v1alpha1"
	"github.com/contactconverter/contact-converter/internal/engine"
	"github.com/contactconverter/contact-converter/internal/inputs"
	"github.com/contactconverter/contact-converter/internal/kubescheme"
	"github.com/contactconverter/contact-converter/internal/statusreport"
	"github.com/contactconverter/contact-converter/internal/store"
)

// runConvertInCluster runs a ContactConversion read through the API, as the
// operator's Job does.
func runConvertInCluster(ctx context.Context, log *runLog, o convertOptions) error {
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("no Kubernetes configuration: %w", err)
	}
	c, err := client.New(cfg, client.Options{Scheme: kubescheme.New()})
	if err != nil {
		return err
	}
	var cc ccv1.ContactConversion
	if err := c.Get(ctx, client.ObjectKey{Namespace: o.namespace, Name: o.name}, &cc); err != nil {
		if apierrors.IsNotFound(err) {
			return &engine.ConfigError{Err: fmt.Errorf("ContactConversion %s/%s not found", o.namespace, o.name)}
		}
		return err
	}
	if o.generation != 0 && cc.Generation != o.generation {
		log.Infof("the spec is at generation %d, this Job was made for %d; running the current spec", cc.Generation, o.generation)
	}
	shard, err := o.shardIndex()
	if err != nil {
		return err
	}
	opener := inputs.NewCluster(c, cc.Namespace)
	opener.ClaimsDir = o.claimsDir
	url := o.database
	if url == "" {
		pg := cc.Spec.Database.Postgres
		if pg == nil {
			return &engine.ConfigError{Err: errors.New("spec.database.sqlite needs --database sqlite:PATH (the Job mounts the claim)")}
		}
		if url, err = opener.SecretValue(ctx, "spec.database.postgres.secretRef", pg.SecretRef.Name, pg.SecretRef.SecretKey()); err != nil {
			return err
		}
	}
	st, err := openStore(ctx, url, o.erasureSalt, false)
	if err != nil {
		return err
	}
	defer st.Close()

	reporter := &statusreport.Reporter{Client: c, CC: &cc, Shard: shard, Shards: o.shards, Every: 5 * time.Second, Now: time.Now}
	spillDir := o.spillDir
	if spillDir == "" {
		spillDir = os.TempDir() + "/contact-converter-spill"
	}
	if opener.URLs, err = o.urls(spillDir); err != nil {
		return err
	}
	log.Infof("%s/%s generation %d, shard %d of %d", cc.Namespace, cc.Name, cc.Generation, shard, max(o.shards, 1))
	rep, err := engine.Run(ctx, engine.Options{
		Spec: &cc.Spec, Opener: opener, Store: st, SpillDir: spillDir, Partitions: o.partitions,
		Shard: shard, Shards: o.shards, RunID: o.runID, Build: Version, Reread: o.reread,
		Progress: func(p engine.Progress) {
			log.Progress(p)
			if err := reporter.Progress(ctx, p); err != nil {
				log.Warnf("writing progress: %v", err)
			}
		},
	})
	log.Done()
	if err != nil {
		return err
	}
	log.Summary(rep)
	// The final status must land even if a SIGTERM arrives now.
	finalCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if o.shards > 1 {
		// Every shard saves its report; the last one to finish reports the
		// whole run.
		if rep, err = combineShards(finalCtx, st, rep, shard, o.shards, o.runID); err != nil || rep == nil {
			return err
		}
	}
	return reporter.Final(finalCtx, rep, st)
}

// combineShards saves this shard's report and, once every shard has, returns
// their sum, and ends the run's exchange; nil while others are still running.
func combineShards(ctx context.Context, st store.Store, rep *engine.Report, shard, shards int, runID string) (*engine.Report, error) {
	data, err := json.Marshal(rep)
	if err != nil {
		return nil, err
	}
	all, err := st.SaveShardReport(ctx, rep.RunKey, shard, shards, data)
	if err != nil || all == nil {
		return nil, err
	}
	reports := make([]*engine.Report, len(all))
	for i, d := range all {
		reports[i] = &engine.Report{}
		if err := json.Unmarshal(d, reports[i]); err != nil {
			return nil, err
		}
	}
	if ex, ok := st.(store.Exchange); ok {
		if err := ex.EndExchange(ctx, runID); err != nil {
			return nil, fmt.Errorf("ending the shards' exchange: %w", err)
		}
	}
	return engine.CombineShards(reports)
}
