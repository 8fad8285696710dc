package views

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/storage"

	"github.com/paredao/paredao/pipeline"
)

// Catalog is the live list of paredões, read from pipeline.CatalogTable.
type Catalog struct {
	view *goka.View

	mu       sync.RWMutex
	paredoes map[string]*pipeline.Paredao
}

// NewCatalog creates the catalog view; opts carry the Kafka builders (or a tester).
func NewCatalog(brokers []string, opts ...goka.ViewOption) (*Catalog, error) {
	c := &Catalog{paredoes: map[string]*pipeline.Paredao{}}
	opts = append([]goka.ViewOption{goka.WithViewStorageBuilder(storage.MemoryBuilder())}, opts...)
	opts = append(opts, goka.WithViewCallback(c.update))
	v, err := goka.NewView(brokers, pipeline.CatalogTable, new(pipeline.ParedaoCodec), opts...)
	if err != nil {
		return nil, fmt.Errorf("catalog view: %w", err)
	}
	c.view = v
	return c, nil
}

// Run follows the catalog topic until ctx ends.
func (c *Catalog) Run(ctx context.Context) error { return c.view.Run(ctx) }

// Recovered tells whether the catalog caught up with its topic once.
func (c *Catalog) Recovered() bool { return c.view.Recovered() }

func (c *Catalog) update(ctx goka.UpdateContext, s storage.Storage, key string, value []byte) error {
	var p *pipeline.Paredao
	if value != nil {
		v, err := new(pipeline.ParedaoCodec).Decode(value)
		if err != nil {
			return fmt.Errorf("catalog update %q: %w", key, err)
		}
		p = v.(*pipeline.Paredao)
	}
	c.mu.Lock()
	if p == nil {
		delete(c.paredoes, key)
	} else {
		c.paredoes[key] = p
	}
	c.mu.Unlock()
	return goka.DefaultUpdate(ctx, s, key, value)
}

// Get returns the paredão with id, or nil. The result must not be modified.
func (c *Catalog) Get(id string) *pipeline.Paredao {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.paredoes[id]
}

// List returns every paredão, by opening time then id.
func (c *Catalog) List() []*pipeline.Paredao {
	c.mu.RLock()
	out := make([]*pipeline.Paredao, 0, len(c.paredoes))
	for _, p := range c.paredoes {
		out = append(out, p)
	}
	c.mu.RUnlock()
	slices.SortFunc(out, func(a, b *pipeline.Paredao) int {
		if c := a.OpensAt.Compare(b.OpensAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}
