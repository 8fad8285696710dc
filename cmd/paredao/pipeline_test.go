package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/lovoo/goka"

	"github.com/paredao/paredao/pipeline"
	"github.com/paredao/paredao/service"
	"github.com/paredao/paredao/views"
)

// The pipeline on a real Kafka protocol: kfake over TCP, the real guard and
// tally processors and the standings view. N votes in (with replays and
// duplicate sends mixed in), the exact count out.
func TestPipelineCountsExactly(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := t.TempDir()
	cfg := &Config{
		DataDir: dir, BrokerAddr: freeAddr(t), Partitions: 6, Window: time.Minute, Grace: time.Second,
		LateHorizon: 10 * time.Minute, Groups: []string{"guard", "tally"}, PowMaxNumber: 10, EmitTimeout: time.Second,
		AuditDays: 30,
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	broker, err := startBroker(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(broker.Close)
	k := newKafka(cfg, log)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := ensureTopics(ctx, k); err != nil {
		t.Fatal(err)
	}
	procs, err := newProcessorTier(cfg, k, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	standings, err := views.NewStandings(cfg.KafkaBrokers, k.ViewOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- service.RunLayers(ctx, log, append(procs.tasks(), service.Task{Name: "standings", Run: standings.Run}))
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("pipeline stopped with %v", err)
		}
	})

	now := time.Now().UTC()
	catalog, err := goka.NewEmitter(cfg.KafkaBrokers, goka.Stream(pipeline.CatalogTable), new(pipeline.ParedaoCodec), k.EmitterOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := catalog.Finish(); err != nil {
			t.Errorf("catalog emitter: %v", err)
		}
	}()
	p := &pipeline.Paredao{ID: "demo", Title: "Demo", OpensAt: now.Add(-time.Hour), ClosesAt: now.Add(time.Hour),
		Participants: []pipeline.Participant{{ID: "ana", Name: "Ana"}, {ID: "bruno", Name: "Bruno"}, {ID: "carla", Name: "Carla"}}}
	if err := catalog.EmitSync(p.ID, p); err != nil {
		t.Fatal(err)
	}
	votes, err := goka.NewEmitter(cfg.KafkaBrokers, pipeline.VotesStream, new(pipeline.VoteCodec), k.EmitterOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := votes.Finish(); err != nil {
			t.Errorf("votes emitter: %v", err)
		}
	}()

	want := map[string]int64{}
	var promises []*goka.Promise
	for i := range 3000 {
		participant := p.Participants[i%7%3].ID
		voter := fmt.Sprintf("voter-%d", i%100)
		v := &pipeline.Vote{ID: fmt.Sprintf("c%d", i), ParedaoID: "demo", ParticipantID: participant, VoterID: voter,
			ChallengeID: fmt.Sprintf("c%d", i), AcceptedAt: now, ExpiresAt: now.Add(2 * time.Minute)}
		want[participant]++
		sends := 1
		if i%10 == 0 {
			sends = 3 // a replay or a retried send: the same proof of work again
		}
		for range sends {
			pr, err := votes.Emit(voter, v)
			if err != nil {
				t.Fatal(err)
			}
			promises = append(promises, pr)
		}
	}
	for _, pr := range promises {
		errc := make(chan error, 1)
		pr.Then(func(err error) { errc <- err })
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 60*time.Second, "exact standings", func() (bool, string) {
		s := standings.Snapshot("demo")
		for id, n := range want {
			if s.Totals[id] != n {
				return false, fmt.Sprintf("got %v want %v", s.Totals, want)
			}
		}
		return true, ""
	})
}
