//go:build tools

// Package tools pins the Pulumi CLI's main package (github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
// so that `go mod tidy` keeps its dependencies in go.sum. The version in go.mod is the project's
// one pin of the Pulumi CLI; scripts/pulumi-cli.sh reads it from there.
package tools

import (
	_ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
)
