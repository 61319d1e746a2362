package anthem_test

import (
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"reflect"
	"sort"

	"libanthem.example/anthem"
)

// The body of this function is the program of docs/go.md
// (TestDocExample checks that they agree).
func Example() {
	data := "../../tests/data/wordnet-fixture" // the fixture, seen from bindings/go
	cat, err := anthem.LoadCatalog(filepath.Join(data, "catalog.tsv"), anthem.ReadStrict)
	if err != nil {
		log.Fatal(err)
	}
	defer cat.Close()
	train, err := anthem.LoadJudgments(filepath.Join(data, "train.tsv"), cat, anthem.ReadStrict)
	if err != nil {
		log.Fatal(err)
	}
	defer train.Close()
	test, err := anthem.LoadJudgments(filepath.Join(data, "test.tsv"), cat, anthem.ReadStrict)
	if err != nil {
		log.Fatal(err)
	}
	defer test.Close()

	// A tiny model, trained for one short epoch.
	cfg := anthem.DefaultConfig()
	cfg.Dim, cfg.Buckets = 8, 4096
	opts := anthem.DefaultTrainOptions()
	opts.Epochs, opts.EpochExamples, opts.Threads = 1, 64, 1
	opts.Progress = func(p anthem.Progress) error {
		if p.EpochDone {
			fmt.Printf("epoch %d/%d done\n", p.Epoch, p.Epochs)
		}
		return nil // a non-nil error stops training
	}
	tr, err := anthem.NewTrainer(cfg, cat, train, &opts)
	if err != nil {
		log.Fatal(err)
	}
	defer tr.Close()
	if err := tr.Run(); err != nil {
		log.Fatal(err)
	}

	// Save the model, load it back (mapped read-only), index the catalogue.
	dir, err := os.MkdirTemp("", "anthem-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	best, err := tr.Model()
	if err != nil {
		log.Fatal(err)
	}
	if err := best.Save(filepath.Join(dir, "tiny.anthem")); err != nil {
		log.Fatal(err)
	}
	model, err := anthem.LoadModel(filepath.Join(dir, "tiny.anthem"))
	if err != nil {
		log.Fatal(err)
	}
	defer model.Close()
	ix, err := anthem.BuildIndex(model, cat, 0)
	if err != nil {
		log.Fatal(err)
	}
	defer ix.Close()

	// Two-stage search: 100 stage-1 candidates reranked, best 10 kept.
	hits, err := ix.Search(model, "coat", 10, 100)
	if err != nil {
		log.Fatal(err)
	}
	for _, h := range hits {
		log.Printf("%s %.3f %s", h.ProductID, h.Distance, h.Title)
	}
	fmt.Println(len(hits), "hits, best first:", sort.SliceIsSorted(hits,
		func(i, j int) bool { return hits[i].Distance < hits[j].Distance }))

	// The pipeline with options: "coat" AND "fur", OR "jacket", 5 hits,
	// only the first 200 products allowed.
	so := anthem.DefaultSearchOptions()
	so.K, so.And, so.Or = 5, []string{"fur"}, []string{"jacket"}
	so.Allow = make([]int, 200)
	for i := range so.Allow {
		so.Allow[i] = i
	}
	composed, err := ix.SearchEx(model, "coat", &so)
	if err != nil {
		log.Fatal(err)
	}
	allowed := true
	for _, h := range composed {
		allowed = allowed && h.Index < 200
		log.Printf("%s %.3f (score %.3f) %s", h.ProductID, h.Distance, h.Score(), h.Title)
	}
	fmt.Println(len(composed), "composed hits, all allowed:", allowed)

	// Many queries in one call: batch[q] is what SearchEx gives queries[q].
	batch, err := ix.SearchBatch(model, []string{"coat", "hat", "boot"}, &so)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(batch), "queries, the first as SearchEx:", reflect.DeepEqual(batch[0], composed))

	// An engine's own candidates, by product id, reranked by the full model
	// (ids the index does not hold are left out).
	pos, ok := ix.Find(hits[0].ProductID)
	fmt.Println("found:", ok && pos == hits[0].Index)
	reranked, err := ix.RerankIDs(model, "coat", []string{hits[2].ProductID, "no-such-id", hits[0].ProductID})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(reranked), "reranked, best first:", reranked[0].Distance <= reranked[1].Distance)

	// Ranking quality on the held-out judgements.
	m, err := anthem.Evaluate(model, cat, test, nil)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("NDCG@10 %.3f  MAP %.3f  MRR %.3f over %d queries", m.NDCG10, m.MAP, m.MRR, m.Queries)
	fmt.Println("NDCG@10 in [0, 1]:", m.NDCG10 >= 0 && m.NDCG10 <= 1)

	// Errors carry the C status code, its name and the message.
	_, err = anthem.LoadModel(filepath.Join(dir, "missing.anthem"))
	var e *anthem.Error
	if errors.As(err, &e) {
		fmt.Println(e.Code, e.Name, errors.Is(err, anthem.ErrNotFound))
	}
	// Output:
	// epoch 1/1 done
	// 10 hits, best first: true
	// 5 composed hits, all allowed: true
	// 3 queries, the first as SearchEx: true
	// found: true
	// 2 reranked, best first: true
	// NDCG@10 in [0, 1]: true
	// -10 not found true
}
