package stream

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"

	"github.com/lovoo/goka/storage"
	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/opt"
)

// writeBackMax is how many pending writes a partition's store gathers before
// it writes them to goleveldb in one batch.
const writeBackMax = 4096

// WriteBackBuilder builds goka stores on goleveldb under dir (one per topic
// and partition, as storage.BuilderWithOptions) that gather writes in memory
// and write them to goleveldb in batches of up to max: a vote's table write
// and its offset cost a map insert instead of two journal writes. Reads see
// the pending writes. What is pending when the process dies is lost, which is
// what the Supervisor assumes of any local store after an unclean stop (it
// drops it and recovers from the table topic); a clean Close writes it.
func WriteBackBuilder(dir string, opts *opt.Options, max int) storage.Builder {
	if max <= 0 {
		max = writeBackMax
	}
	return func(topic string, partition int32) (storage.Storage, error) {
		db, err := leveldb.OpenFile(filepath.Join(dir, fmt.Sprintf("%s.%d", topic, partition)), opts)
		if err != nil {
			return nil, fmt.Errorf("open leveldb: %w", err)
		}
		inner, err := storage.New(db)
		if err != nil {
			return nil, errors.Join(err, db.Close())
		}
		return &writeBack{Storage: inner, db: db, max: max, pending: map[string]pendingWrite{}}, nil
	}
}

// writeBack is a goka storage.Storage whose writes wait in memory.
type writeBack struct {
	storage.Storage // goka's goleveldb store on db: offsets, iteration, close
	db              *leveldb.DB
	max             int

	mu      sync.Mutex
	pending map[string]pendingWrite
	offset  int64 // pending SetOffset; 0: none
}

type pendingWrite struct {
	value   []byte
	deleted bool
}

func (w *writeBack) Get(key string) ([]byte, error) {
	w.mu.Lock()
	p, ok := w.pending[key]
	w.mu.Unlock()
	if ok {
		if p.deleted {
			return nil, nil
		}
		return p.value, nil
	}
	return w.Storage.Get(key)
}

func (w *writeBack) Has(key string) (bool, error) {
	w.mu.Lock()
	p, ok := w.pending[key]
	w.mu.Unlock()
	if ok {
		return !p.deleted, nil
	}
	return w.Storage.Has(key)
}

// Set keeps value (goka hands a freshly encoded slice and never reuses it).
func (w *writeBack) Set(key string, value []byte) error {
	return w.put(key, pendingWrite{value: value})
}

func (w *writeBack) Delete(key string) error {
	return w.put(key, pendingWrite{deleted: true})
}

func (w *writeBack) put(key string, p pendingWrite) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pending[key] = p
	if len(w.pending) >= w.max {
		return w.flushLocked()
	}
	return nil
}

func (w *writeBack) SetOffset(offset int64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.offset = offset
	return nil
}

func (w *writeBack) GetOffset(def int64) (int64, error) {
	w.mu.Lock()
	off := w.offset
	w.mu.Unlock()
	if off != 0 {
		return off, nil
	}
	return w.Storage.GetOffset(def)
}

// flushLocked writes the pending writes in one goleveldb batch, then the
// offset they reach.
func (w *writeBack) flushLocked() error {
	if len(w.pending) > 0 {
		var b leveldb.Batch
		for k, p := range w.pending {
			if p.deleted {
				b.Delete([]byte(k))
			} else {
				b.Put([]byte(k), p.value)
			}
		}
		if err := w.db.Write(&b, nil); err != nil {
			return fmt.Errorf("write-back store: write %d keys: %w", len(w.pending), err)
		}
		clear(w.pending)
	}
	if w.offset != 0 {
		if err := w.Storage.SetOffset(w.offset); err != nil {
			return err
		}
		w.offset = 0
	}
	return nil
}

func (w *writeBack) flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.flushLocked()
}

func (w *writeBack) MarkRecovered() error {
	if err := w.flush(); err != nil {
		return err
	}
	return w.Storage.MarkRecovered()
}

// Iterator iterates over goleveldb after writing what is pending.
func (w *writeBack) Iterator() (storage.Iterator, error) {
	if err := w.flush(); err != nil {
		return nil, err
	}
	return w.Storage.Iterator()
}

func (w *writeBack) IteratorWithRange(start, limit []byte) (storage.Iterator, error) {
	if err := w.flush(); err != nil {
		return nil, err
	}
	return w.Storage.IteratorWithRange(start, limit)
}

func (w *writeBack) Close() error {
	ferr := w.flush()
	if err := w.Storage.Close(); err != nil {
		return err
	}
	return ferr
}
