package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

// versionCmd prints what was built.
type versionCmd struct {
	JSON bool `name:"json" help:"Print machine-readable JSON."`
}

// buildInfo describes this binary, from the information the Go toolchain
// embeds (no build-time variables needed).
type buildInfo struct {
	Version   string `json:"version"`
	GoVersion string `json:"go_version"`
	Revision  string `json:"vcs_revision,omitempty"`
	Time      string `json:"vcs_time,omitempty"`
	Modified  bool   `json:"vcs_modified,omitempty"`
}

func readBuildInfo() buildInfo {
	bi := buildInfo{Version: "(devel)", GoVersion: runtime.Version()}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return bi
	}
	if info.Main.Version != "" {
		bi.Version = info.Main.Version
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			bi.Revision = s.Value
		case "vcs.time":
			bi.Time = s.Value
		case "vcs.modified":
			bi.Modified = s.Value == "true"
		}
	}
	return bi
}

// Run prints the version.
func (c *versionCmd) Run(_ context.Context, ce *commandEnv) error {
	bi := readBuildInfo()
	if c.JSON {
		return writeJSON(ce.stdout, bi)
	}
	fmt.Fprintf(ce.stdout, "gatehouse %s (%s", bi.Version, bi.GoVersion)
	if bi.Revision != "" {
		fmt.Fprintf(ce.stdout, ", revision %s", bi.Revision)
		if bi.Modified {
			fmt.Fprint(ce.stdout, " with local changes")
		}
	}
	fmt.Fprintln(ce.stdout, ")")
	return nil
}
