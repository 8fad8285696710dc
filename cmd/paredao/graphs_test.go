package main

import "github.com/lovoo/goka"

// extraGraphs are the graphs of groups beyond guard and tally.
func extraGraphs() []*goka.GroupGraph { return nil }
