package anthem

/*
#include <stdint.h>
#include <stdlib.h>
#include <anthem/anthem.h>
*/
import "C"

import (
	"fmt"
	"runtime"
	"runtime/cgo"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Progress is what a training progress callback is told
// (anthem_train_progress).
type Progress struct {
	Epoch, Epochs  int     // current epoch (1-based), planned epochs
	Step, Steps    int     // batches done in this epoch, of Steps
	Loss           float64 // mean training loss in this epoch so far
	ValidLoss      float64 // last held-out loss; NaN before the first
	ExamplesPerSec float64
	EpochDone      bool // the call that ends an epoch
	StoppedEarly   bool // the held-out loss stopped improving
	// LexicalWeight is w of the lexical term as the last epoch chose it
	// (NaN for a model without the term).
	LexicalWeight float64
}

// TrainOptions tune a Trainer (anthem_train_options).  Start from
// DefaultTrainOptions: several zero values mean something else than the
// defaults (Threads 0 = all cores, EpochExamples 0 = all examples).
type TrainOptions struct {
	Epochs        int     // default 10
	EpochExamples int     // examples per epoch, fresh sample each epoch; 0: all
	Batch         int     // examples per Adam step, default 32
	Negatives     int     // uniform negatives per example, default 4
	HardNegatives int     // negatives mined with the current model, default 4
	HardPool      int     // candidates scored to mine them, default 64
	LR            float32 // Adam learning rate, default 0.01
	LRDecay       float32 // multiplier per epoch, default 0.85
	Warmup        int     // steps of linear warm-up, default 100
	Threads       int     // 0: all cores
	Seed          uint64  // sampling seed, default 1
	ValidFrac     float32 // share of queries held out, default 0.1
	Patience      int     // epochs without held-out gain, default 2
	Checkpoint    string  // written after every epoch, or ""

	// Progress, if not nil, is called from Run a few times a second and
	// at the end of each epoch, on Run's goroutine.  A non-nil error stops
	// training: Run then returns an error that matches ErrCanceled and
	// unwraps to this error.  A panic in Progress is recovered, stops
	// training the same way, and comes back from Run as a *PanicError.
	Progress func(Progress) error
}

// DefaultTrainOptions returns the library's defaults
// (anthem_train_options_init).
func DefaultTrainOptions() TrainOptions {
	var o C.anthem_train_options
	C.anthem_train_options_init_size(&o, C.size_t(unsafe.Sizeof(o)))
	return TrainOptions{
		Epochs:        int(o.epochs),
		EpochExamples: int(o.epoch_examples),
		Batch:         int(o.batch),
		Negatives:     int(o.negatives),
		HardNegatives: int(o.hard_negatives),
		HardPool:      int(o.hard_pool),
		LR:            float32(o.lr),
		LRDecay:       float32(o.lr_decay),
		Warmup:        int(o.warmup),
		Threads:       int(o.threads),
		Seed:          uint64(o.seed),
		ValidFrac:     float32(o.valid_frac),
		Patience:      int(o.patience),
	}
}

// PanicError is a panic recovered from a progress callback.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("progress callback panicked: %v", e.Value) }

// progressState is what the C trainer's progress_user designates (through
// a cgo.Handle).  fn is set for the duration of Run only, so the handle
// registry never keeps a user's closure (and what it captures) alive.
type progressState struct {
	fn  func(Progress) error
	err error
	// closed: Close was called (from the callback, or another
	// goroutine): the next report stops training.  running: Run is in C
	// (a Run, Model or Checkpoint from the callback would wait for it
	// forever).
	closed, running atomic.Bool
}

//export goAnthemProgress
func goAnthemProgress(p *C.anthem_train_progress, user unsafe.Pointer) (stop C.int) {
	st, ok := cgo.Handle(uintptr(user)).Value().(*progressState)
	if ok && st.closed.Load() {
		return 1
	}
	if !ok || st.fn == nil {
		return 0
	}
	defer func() {
		if r := recover(); r != nil {
			st.err = &PanicError{Value: r, Stack: debug.Stack()}
			stop = 1
		}
	}()
	if err := st.fn(Progress{
		Epoch: int(p.epoch), Epochs: int(p.epochs),
		Step: int(p.step), Steps: int(p.steps),
		Loss: float64(p.loss), ValidLoss: float64(p.valid_loss),
		ExamplesPerSec: float64(p.examples_per_sec),
		EpochDone:      p.epoch_done != 0, StoppedEarly: p.stopped_early != 0,
		LexicalWeight: float64(p.lexical_weight),
	}); err != nil {
		st.err = err
		return 1
	}
	return 0
}

// Trainer learns a model from judgements (anthem_trainer).  Its methods
// may be called from one goroutine at a time.
type Trainer struct {
	obj      *object
	mu       sync.Mutex
	state    *progressState
	progress func(Progress) error
	borrowed []*object // views handed out by Model, invalidated by Run
}

// toC converts Go options; the returned C string (the
// checkpoint path, or nil) must live as long as the trainer: the C
// trainer keeps the pointer.
func (o TrainOptions) toC(co *C.anthem_train_options) (*C.char, error) {
	C.anthem_train_options_init_size(co, C.size_t(unsafe.Sizeof(*co)))
	sizes := []struct {
		name string
		v    int
		dst  *C.size_t
	}{
		{"TrainOptions.Epochs", o.Epochs, &co.epochs},
		{"TrainOptions.EpochExamples", o.EpochExamples, &co.epoch_examples},
		{"TrainOptions.Batch", o.Batch, &co.batch},
		{"TrainOptions.Negatives", o.Negatives, &co.negatives},
		{"TrainOptions.HardNegatives", o.HardNegatives, &co.hard_negatives},
		{"TrainOptions.HardPool", o.HardPool, &co.hard_pool},
		{"TrainOptions.Warmup", o.Warmup, &co.warmup},
		{"TrainOptions.Threads", o.Threads, &co.threads},
		{"TrainOptions.Patience", o.Patience, &co.patience},
	}
	for _, s := range sizes {
		v, err := size(s.name, s.v)
		if err != nil {
			return nil, err
		}
		*s.dst = v
	}
	co.lr = C.float(o.LR)
	co.lr_decay = C.float(o.LRDecay)
	co.seed = C.uint64_t(o.Seed)
	co.valid_frac = C.float(o.ValidFrac)
	if o.Checkpoint == "" {
		return nil, nil
	}
	cp, err := cstring("TrainOptions.Checkpoint", o.Checkpoint)
	if err != nil {
		return nil, err
	}
	co.checkpoint = cp
	return cp, nil
}

type createFunc func(out **C.anthem_trainer, c *C.anthem_catalog, j *C.anthem_judgments,
	o *C.anthem_train_options) C.int

func newTrainer(c *Catalog, j *Judgments, opts *TrainOptions, create createFunc) (*Trainer, error) {
	o := DefaultTrainOptions()
	if opts != nil {
		o = *opts
	}
	var co C.anthem_train_options
	checkpoint, err := o.toC(&co)
	if err != nil {
		return nil, err
	}
	// From here on, every failure must undo what was taken.
	cp, err := c.acquire()
	if err != nil {
		C.free(unsafe.Pointer(checkpoint))
		return nil, err
	}
	jp, err := j.acquire()
	if err != nil {
		c.obj.release()
		C.free(unsafe.Pointer(checkpoint))
		return nil, err
	}
	state := &progressState{}
	handle := cgo.NewHandle(state)
	if o.Progress != nil {
		setProgress(&co, handle)
	}
	var p *C.anthem_trainer
	if err := call(func() C.int { return create(&p, cp, jp, &co) }); err != nil {
		handle.Delete()
		j.obj.release()
		c.obj.release()
		C.free(unsafe.Pointer(checkpoint))
		return nil, err
	}
	// The catalogue and the judgements must outlive the C trainer: the
	// trainer's object holds a reference to each and releases them after
	// anthem_trainer_free.
	t := &Trainer{
		obj: newObject("trainer", unsafe.Pointer(p), func(p unsafe.Pointer) {
			C.anthem_trainer_free((*C.anthem_trainer)(p))
			C.free(unsafe.Pointer(checkpoint))
			handle.Delete()
		}, c.obj, j.obj),
		state:    state,
		progress: o.Progress,
	}
	runtime.SetFinalizer(t, (*Trainer).Close)
	return t, nil
}

// NewTrainer makes a trainer for a new model of configuration cfg on the
// judgements j of catalogue c (anthem_trainer_create).  A nil opts means
// DefaultTrainOptions().  The trainer keeps c and j alive until it is
// closed, even if they are closed first.
func NewTrainer(cfg Config, c *Catalog, j *Judgments, opts *TrainOptions) (*Trainer, error) {
	var cc C.anthem_model_config
	if err := cfg.toC(&cc); err != nil {
		return nil, err
	}
	return newTrainer(c, j, opts, func(out **C.anthem_trainer, cp *C.anthem_catalog,
		jp *C.anthem_judgments, o *C.anthem_train_options) C.int {
		return C.anthem_trainer_create(out, &cc, cp, jp, o)
	})
}

// ResumeTrainer continues from a checkpoint written by a trainer with the
// same data and options (anthem_trainer_resume); ErrMismatch if the data
// differ from the checkpoint's.
func ResumeTrainer(checkpoint string, c *Catalog, j *Judgments, opts *TrainOptions) (*Trainer, error) {
	ck, err := cstring("checkpoint", checkpoint)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(ck))
	return newTrainer(c, j, opts, func(out **C.anthem_trainer, cp *C.anthem_catalog,
		jp *C.anthem_judgments, o *C.anthem_train_options) C.int {
		return C.anthem_trainer_resume(out, ck, cp, jp, o)
	})
}

// Close frees the trainer (after any Model view of it is closed too).
// From the progress callback, or during Run in another goroutine, it stops
// training at the next progress report; Run then returns nil and the
// trainer is freed.  Idempotent.
func (t *Trainer) Close() error {
	if t != nil {
		t.state.closed.Store(true)
		t.obj.close()
	}
	return nil
}

// busy refuses a call that would wait for Run's lock from Run's own
// progress callback.
func (t *Trainer) busy(what string) error {
	if t.state.running.Load() {
		return goError(CodeInvalid, "Trainer.%s: the trainer is running (called from its progress callback?)", what)
	}
	return nil
}

func (t *Trainer) acquire() (*C.anthem_trainer, error) {
	if t == nil {
		return nil, goError(CodeInvalid, "nil *Trainer")
	}
	p, err := t.obj.acquire()
	return (*C.anthem_trainer)(p), err
}

// Run trains until the planned epochs are done or the held-out loss stops
// improving (anthem_trainer_run).  It closes the models Model returned
// before (the C library replaces them) and waits for calls in flight on
// them.  When the progress callback stops training, the error matches
// ErrCanceled and unwraps to the callback's error or *PanicError; the
// trainer keeps its best model so far.
func (t *Trainer) Run() error {
	p, err := t.acquire()
	if err != nil {
		return err
	}
	defer t.obj.release()
	if err := t.busy("Run"); err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, b := range t.borrowed {
		b.closeAndWait()
	}
	t.borrowed = nil
	t.state.fn, t.state.err = t.progress, nil
	t.state.running.Store(true)
	err = call(func() C.int { return C.anthem_trainer_run(p) })
	t.state.running.Store(false)
	cause := t.state.err
	t.state.fn, t.state.err = nil, nil
	if t.state.closed.Load() && cause == nil {
		return nil // closed while running: stopped as asked
	}
	if e, ok := err.(*Error); ok && e.Code == CodeCanceled && cause != nil {
		e.cause = cause
	}
	return err
}

// Model returns the best model so far (anthem_trainer_model) as a view
// into the trainer: it is valid until the next Run or until it is closed,
// and it keeps the trainer's memory alive meanwhile.  Save it to keep it.
func (t *Trainer) Model() (*Model, error) {
	if err := t.busy("Model"); err != nil {
		return nil, err
	}
	p, err := t.acquire() // held by the view until it is freed
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	mp := C.anthem_trainer_model(p)
	if mp == nil {
		t.obj.release()
		return nil, goError(CodeInvalid, "the trainer has no model")
	}
	o := newObject("trainer's model (a view, closed by Run)", unsafe.Pointer(mp), nil, t.obj)
	t.borrowed = append(t.borrowed, o)
	m := &Model{obj: o}
	runtime.SetFinalizer(m, (*Model).Close)
	return m, nil
}

// Epoch is the number of epochs completed (anthem_trainer_epoch).
func (t *Trainer) Epoch() int {
	p, err := t.acquire()
	if err != nil {
		return 0
	}
	defer t.obj.release()
	return int(C.anthem_trainer_epoch(p))
}

// Checkpoint writes the full training state atomically
// (anthem_trainer_checkpoint).
func (t *Trainer) Checkpoint(path string) error {
	p, err := t.acquire()
	if err != nil {
		return err
	}
	defer t.obj.release()
	cpath, err := cstring("path", path)
	if err != nil {
		return err
	}
	defer C.free(unsafe.Pointer(cpath))
	if err := t.busy("Checkpoint"); err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return call(func() C.int { return C.anthem_trainer_checkpoint(p, cpath) })
}
