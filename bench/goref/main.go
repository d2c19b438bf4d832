// Command goref is the reference the benchmark compares against: what a Go
// program does to reformat a weights.lock with encoding/json, i.e.
// json.Unmarshal into the lockfile structures, sort files by path and layers
// by digest, json.MarshalIndent with two spaces, write to stdout.
//
//	goref LOCKFILE > OUT
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"time"
)

type lockfile struct {
	Version        int     `json:"version"`
	EnvelopeFormat string  `json:"envelopeFormat"`
	Weights        []entry `json:"weights"`
}

type entry struct {
	Name           string  `json:"name"`
	Target         string  `json:"target"`
	Source         source  `json:"source"`
	Digest         string  `json:"digest"`
	SetDigest      string  `json:"setDigest"`
	Size           int64   `json:"size"`
	SizeCompressed int64   `json:"sizeCompressed"`
	Files          []file  `json:"files"`
	Layers         []layer `json:"layers"`
}

type source struct {
	URI         string    `json:"uri"`
	Fingerprint string    `json:"fingerprint"`
	Include     []string  `json:"include"`
	Exclude     []string  `json:"exclude"`
	ImportedAt  time.Time `json:"importedAt"`
}

type file struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	Digest string `json:"digest"`
	Layer  string `json:"layer"`
}

type layer struct {
	Digest           string `json:"digest"`
	MediaType        string `json:"mediaType"`
	Size             int64  `json:"size"`
	SizeUncompressed int64  `json:"sizeUncompressed"`
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: goref LOCKFILE")
		os.Exit(2)
	}
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "goref:", err)
		os.Exit(2)
	}
	var lock lockfile
	if err := json.Unmarshal(data, &lock); err != nil {
		fmt.Fprintln(os.Stderr, "goref:", err)
		os.Exit(2)
	}
	for i := range lock.Weights {
		e := &lock.Weights[i]
		sort.Slice(e.Files, func(a, b int) bool { return e.Files[a].Path < e.Files[b].Path })
		sort.Slice(e.Layers, func(a, b int) bool { return e.Layers[a].Digest < e.Layers[b].Digest })
		if e.Source.Include == nil {
			e.Source.Include = []string{}
		}
		if e.Source.Exclude == nil {
			e.Source.Exclude = []string{}
		}
	}
	out, err := json.MarshalIndent(&lock, "", "  ")
	if err != nil {
		fmt.Fprintln(os.Stderr, "goref:", err)
		os.Exit(2)
	}
	w := bufio.NewWriter(os.Stdout)
	w.Write(out)
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "goref:", err)
		os.Exit(2)
	}
}
