package main

import _ "embed"

// defaultSeed is the demo paredão (a copy of testdata/seed.json, kept equal by
// TestDefaultSeedMatchesTestdata).
//
//go:embed seed.json
var defaultSeed []byte
