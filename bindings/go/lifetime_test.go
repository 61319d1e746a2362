package anthem

// Lifetimes (issue 13, defect 3): every object closed in every order while
// the others that use it are alive, also from a trainer's progress
// callback and from another goroutine: an error or a working object,
// never a use-after-free (the C side of a freed object is poisoned by the
// ASan build; here a freed catalogue under a trainer would train on
// garbage and change the model), and never a deadlock.

import (
	"errors"
	"math/rand"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func lifetimeOptions() TrainOptions {
	o := tinyOptions()
	o.Epochs = 2
	o.Seed = 7
	return o
}

// The score a run on open data gives: a run on closed-but-kept data must
// give the same.
func referenceScore(t *testing.T) float32 {
	c, train, test := loadData(t)
	defer c.Close()
	defer train.Close()
	defer test.Close()
	opts := lifetimeOptions()
	tr, err := NewTrainer(tinyConfig(), c, train, &opts)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if err := tr.Run(); err != nil {
		t.Fatal(err)
	}
	m, err := tr.Model()
	if err != nil {
		t.Fatal(err)
	}
	d, err := m.Score("blue jean", "blue jean: trousers")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestLifetimeCloseFromProgress(t *testing.T) {
	want := referenceScore(t)
	for _, what := range []string{"trainer", "catalog", "judgments", "all", "run", "model", "checkpoint"} {
		t.Run(what, func(t *testing.T) {
			c, train, test := loadData(t)
			test.Close()
			opts := lifetimeOptions()
			var tr *Trainer
			calls := 0
			var inner error
			opts.Progress = func(p Progress) error {
				calls++
				switch what {
				case "trainer":
					tr.Close()
				case "catalog":
					c.Close()
				case "judgments":
					train.Close()
				case "all":
					c.Close()
					train.Close()
					tr.Close()
				case "run":
					inner = tr.Run()
				case "model":
					_, inner = tr.Model()
				case "checkpoint":
					inner = tr.Checkpoint(filepath.Join(t.TempDir(), "ck"))
				}
				return nil
			}
			var err error
			if tr, err = NewTrainer(tinyConfig(), c, train, &opts); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- tr.Run() }()
			select {
			case err = <-done:
			case <-time.After(60 * time.Second):
				t.Fatal("Run did not return: a deadlock")
			}
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			switch what {
			case "trainer", "all":
				if calls != 1 {
					t.Fatalf("closed at the first report, %d reports", calls)
				}
				if _, err := tr.Model(); !errors.Is(err, ErrClosed) {
					t.Fatalf("Model of a closed trainer: %v", err)
				}
			case "run", "model", "checkpoint":
				if !errors.Is(inner, ErrInvalid) {
					t.Fatalf("%s from the callback: %v", what, inner)
				}
			default:
				// the data were closed under the trainer, which kept them
				m, err := tr.Model()
				if err != nil {
					t.Fatal(err)
				}
				d, err := m.Score("blue jean", "blue jean: trousers")
				if err != nil || d != want {
					t.Fatalf("score %v (%v), want %v as with open data", d, err, want)
				}
				m.Close() // the view holds the trainer
			}
			tr.Close()
			c.Close()
			train.Close()
			for _, o := range []*object{tr.obj, c.obj, train.obj} {
				select {
				case <-o.done:
				default:
					t.Fatalf("the %s was not freed", o.kind)
				}
			}
		})
	}
}

// Every order of closing a catalogue, its judgements, a trainer, its
// model, an index built with that model and the index's vectors; after
// each close every object is used and answers or fails with an *Error.
func TestLifetimeEveryCloseOrder(t *testing.T) {
	names := []string{"cat", "j", "t", "m", "ix", "v"}
	var perms [][]int
	var permute func([]int, int)
	permute = func(a []int, i int) {
		if i == len(a) {
			perms = append(perms, append([]int(nil), a...))
			return
		}
		for k := i; k < len(a); k++ {
			a[i], a[k] = a[k], a[i]
			permute(a, i+1)
			a[i], a[k] = a[k], a[i]
		}
	}
	permute([]int{0, 1, 2, 3, 4, 5}, 0)
	rand.New(rand.NewSource(13)).Shuffle(len(perms), func(i, k int) { perms[i], perms[k] = perms[k], perms[i] })
	// a fixed sample of the 720 (every pair of objects still meets in
	// both orders many times); all of them took 40 s
	perms = perms[:120]
	if testing.Short() {
		perms = perms[:40]
	}
	for _, order := range perms {
		c, train, test := loadData(t)
		test.Close()
		opts := tinyOptions()
		opts.EpochExamples = 32
		tr, err := NewTrainer(tinyConfig(), c, train, &opts)
		if err != nil {
			t.Fatal(err)
		}
		m, err := tr.Model()
		if err != nil {
			t.Fatal(err)
		}
		ix, err := BuildIndex(m, c, 1)
		if err != nil {
			t.Fatal(err)
		}
		v, err := ix.Vectors()
		if err != nil {
			t.Fatal(err)
		}
		closers := []func(){func() { c.Close() }, func() { train.Close() }, func() { tr.Close() },
			func() { m.Close() }, func() { ix.Close() }, func() { v.Close() }}
		check := func(err error) {
			var e *Error
			if err != nil && !errors.As(err, &e) {
				t.Fatalf("order %v: not an *Error: %v", order, err)
			}
		}
		uses := []func(){
			func() { c.Len(); _, err := c.Find("x"); check(err) },
			func() { _, err := train.Get(0); check(err) },
			func() { check(tr.Run()) },
			func() { _, err := m.Score("coat", "coat"); check(err) },
			func() { _, err := ix.Search(m, "coat", 3, 0); check(err) },
			func() { v.Len() },
		}
		for _, i := range order {
			closers[i]()
			for _, use := range uses {
				use()
			}
		}
		for i, o := range []*object{c.obj, train.obj, tr.obj, m.obj, ix.obj, v.obj} {
			select {
			case <-o.done:
			default:
				t.Fatalf("order %v: %s not freed", order, names[i])
			}
		}
	}
}

// A batch in one goroutine, Close of its index and model in another: the
// memory outlives the call.
func TestLifetimeCloseDuringBatch(t *testing.T) {
	c, train, test := loadData(t)
	train.Close()
	test.Close()
	defer c.Close()
	m, err := NewModel(tinyConfig())
	if err != nil {
		t.Fatal(err)
	}
	ix, err := BuildIndex(m, c, 1)
	if err != nil {
		t.Fatal(err)
	}
	qs := make([]string, 400)
	for i := range qs {
		qs[i] = "blue jean"
	}
	o := DefaultSearchOptions()
	o.Or = []string{"hat", "red"}
	var wg sync.WaitGroup
	var res [][]Hit
	var berr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		res, berr = ix.SearchBatch(m, qs, &o)
	}()
	time.Sleep(20 * time.Millisecond)
	ix.Close()
	m.Close()
	wg.Wait()
	if berr == nil && len(res) != len(qs) {
		t.Fatalf("%d results", len(res))
	}
	var e *Error
	if berr != nil && !errors.As(berr, &e) {
		t.Fatal(berr)
	}
	<-ix.obj.done
	<-m.obj.done
}

// Issue 13, defect 16: a deadline stops a long batch.
func TestSearchTimeout(t *testing.T) {
	c, train, test := loadData(t)
	train.Close()
	test.Close()
	defer c.Close()
	m, err := NewModel(tinyConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ix, err := BuildIndex(m, c, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	qs := make([]string, 2000)
	for i := range qs {
		qs[i] = "wool hat"
	}
	o := DefaultSearchOptions()
	o.Or = []string{"hat", "red", "coat", "blue"}
	o.Timeout = time.Millisecond
	if _, err := ix.SearchBatch(m, qs, &o); !errors.Is(err, ErrCanceled) {
		t.Fatalf("a 1 ms batch of 2000 composed queries: %v", err)
	}
	o.Timeout = -time.Second
	if _, err := ix.SearchBatch(m, qs[:1], &o); !errors.Is(err, ErrRange) {
		t.Fatalf("a negative timeout: %v", err)
	}
}
